// Names for group ids. Groups come from GET /companies/{id}/groups, fetched only for the
// companies where the engine allows group:read (asked in the page's one authz call); a
// caller who may not read them sees no group at all.

import { api } from "./api.js";

export class Groups {
  constructor() {
    this.byId = new Map();
    this.byCompany = new Map();
  }

  /** Fetch the groups of the companies among `companyIds` whose groups the caller may read. */
  async load(companyIds, answers) {
    const readable = [...new Set(companyIds)].filter((c) => answers.allows("group:read", c));
    const lists = await Promise.all(readable.map((c) => api("GET", `/companies/${c}/groups`)));
    readable.forEach((company, i) => {
      this.byCompany.set(company, lists[i]);
      for (const group of lists[i]) this.byId.set(group.id, group);
    });
    return this;
  }

  /** The groups of a company, or undefined when the caller may not read them. */
  of(companyId) {
    return this.byCompany.get(companyId);
  }

  /** A group's name, or a short id for one the caller cannot name. */
  name(groupId) {
    if (!groupId) return null;
    return this.byId.get(groupId)?.name ?? `group …${groupId.slice(-6)}`;
  }
}
