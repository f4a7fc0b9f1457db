// The console's panels, one module each. A panel exports:
//   pattern        the route it answers (a RegExp over the path after "#"; groups -> params)
//   title(ctx, data)
//   nav            optional link: {label, permission, href(companyId), global?}; shown for
//                  each company where the engine allows `permission` (once, if `global`)
//   load(ctx)      the page's data (an ApiError becomes the page's error view)
//   questions(ctx, data)   the authorization questions the page needs
//   render(ctx, data, answers)   the page, built from the data and the engine's answers
// The panels of features the API does not have yet (groups and ticket access, invitations)
// slot in here as modules of their own.

import * as audit from "./audit.js";
import * as members from "./members.js";
import * as newTicket from "./new-ticket.js";
import * as ticket from "./ticket.js";
import * as tickets from "./tickets.js";

export const PANELS = [tickets, newTicket, ticket, members, audit];
