// What the page offers comes from the engine, never from role names: each page view lists
// the questions it needs ("may I ticket:delete this ticket?") and asks them all in one
// POST /authz/check. A policy change therefore changes the page with no change here.

import { api } from "./api.js";

const BATCH = 100; // the endpoint's limit per call; a page view needs far fewer

/** A question: a permission ("ticket:share") on a ticket (`resourceId`), or one decided
 * per company ("group:manage", "members:add") on a company (`companyId`). */
export function question(permission, { resourceId, companyId } = {}) {
  return { permission, resourceId, companyId };
}

function key(permission, id) {
  return `${permission} ${id}`;
}

/** The engine's answers for one page view. */
export class Answers {
  constructor(questions = [], results = [], reasons = [], fields = [], values = []) {
    this.byKey = new Map();
    questions.forEach((q, i) => {
      this.byKey.set(key(q.permission, q.resourceId ?? q.companyId), {
        allowed: results[i] === true,
        reason: reasons[i] ?? "",
        fields: fields[i] ?? [],
        values: values[i] ?? {},
      });
    });
  }

  /** Whether `permission` is allowed on the ticket or company `id` (false if not asked). */
  allows(permission, id) {
    return this.byKey.get(key(permission, id))?.allowed === true;
  }

  /** For an allowed "ticket:update" (or "ticket:create"): the fields the caller may set. */
  fields(permission, id) {
    return new Set(this.byKey.get(key(permission, id))?.fields ?? []);
  }

  /** For the same: of `choices` ([value, label] pairs of one field), those the caller may
   * set (all of them when the engine names no limit for the field). */
  choices(permission, id, field, choices) {
    const allowed = this.byKey.get(key(permission, id))?.values?.[field];
    return allowed ? choices.filter(([value]) => allowed.includes(value)) : choices;
  }

  /** The engine's reason for its answer, as the audit log would word it. */
  reason(permission, id) {
    return this.byKey.get(key(permission, id))?.reason ?? "";
  }
}

/** Ask every question of a page view in one call (more only past the endpoint's limit). */
export async function ask(questions) {
  const unique = [...new Map(questions.map((q) => [key(q.permission, q.resourceId ?? q.companyId), q])).values()];
  if (unique.length === 0) return new Answers();
  const results = [];
  const reasons = [];
  const fields = [];
  const values = [];
  for (let start = 0; start < unique.length; start += BATCH) {
    const batch = unique.slice(start, start + BATCH);
    const checks = batch.map((q) => {
      const check = { permission: q.permission };
      if (q.resourceId) check.resource_id = q.resourceId;
      if (q.companyId) check.company_id = q.companyId;
      return check;
    });
    const answer = await api("POST", "/authz/check", { checks });
    results.push(...answer.results);
    reasons.push(...answer.reasons);
    fields.push(...(answer.fields ?? batch.map(() => null)));
    values.push(...(answer.values ?? batch.map(() => null)));
  }
  return new Answers(unique, results, reasons, fields, values);
}
