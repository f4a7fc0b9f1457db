// The values the API accepts for a ticket's status and priority, a member's role and an
// agent's ticket access, with their labels. What a caller may set is the engine's business (POST /authz/check).

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

// Which of these a role may have is the policy's business: the console offers them all to
// an admin and shows the server's refusal (422, naming what the role may have).
export const ACCESS_LEVELS = [
  ["all", "All tickets"],
  ["groups", "Their groups"],
  ["assigned", "Assigned only"],
];

/** The label of `value` in one of the lists above. */
export function label(list, value) {
  return list.find(([v]) => v === value)?.[1] ?? value;
}
