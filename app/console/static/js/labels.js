// The values the API accepts for a ticket's status and priority and a member's role, with
// their labels. What a caller may set is the engine's business (POST /authz/check).

export const STATUSES = [
  ["open", "Open"],
  ["in-progress", "In progress"],
  ["resolved", "Resolved"],
];

export const PRIORITIES = [
  ["low", "Low"],
  ["normal", "Normal"],
  ["high", "High"],
  ["urgent", "Urgent"],
];

export const ROLES = [
  ["admin", "Admin"],
  ["agent", "Agent"],
  ["customer", "Customer"],
];

/** The label of `value` in one of the lists above. */
export function label(list, value) {
  return list.find(([v]) => v === value)?.[1] ?? value;
}
