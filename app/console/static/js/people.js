// Names for user ids. The API returns ids; names come from the member lists the caller may
// read (members:list, asked in the page's one authz call). Anyone else is shown by a short
// id: the console never guesses who a user is.

import { api } from "./api.js";

export class People {
  constructor(me) {
    this.me = me;
    this.byId = new Map();
    this.byCompany = new Map();
  }

  /** Fetch the members of the companies among `companyIds` whose list the caller may read. */
  async load(companyIds, answers) {
    const listable = [...new Set(companyIds)].filter((c) => answers.allows("members:list", c));
    const lists = await Promise.all(listable.map((c) => api("GET", `/companies/${c}/members`)));
    listable.forEach((company, i) => {
      this.byCompany.set(company, lists[i]);
      for (const member of lists[i]) this.byId.set(member.user_id, member);
    });
    return this;
  }

  /** The members of a company, or undefined when the caller may not list them. */
  members(companyId) {
    return this.byCompany.get(companyId);
  }

  /** A member of one of the listed companies, or undefined. */
  member(userId) {
    return this.byId.get(userId);
  }

  /** A person's display name: "you", a member's username, or a short id. */
  name(userId) {
    if (!userId) return null;
    if (userId === this.me.id) return `${this.me.username} (you)`;
    const member = this.byId.get(userId);
    return member ? member.username : `member …${userId.slice(-6)}`;
  }
}
