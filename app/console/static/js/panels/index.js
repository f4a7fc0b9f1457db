// The console's panels, one module each. A panel exports:
//   pattern        the route it answers (a RegExp over the path after "#"; groups -> params)
//   title(ctx, data)
//   nav            optional link: {label, permission, href(companyId), global?}; shown for
//                  each company where the engine allows `permission` (once, if `global`);
//                  {label, always: true, href()}: once, for every signed-in user
//   load(ctx)      the page's data (an ApiError becomes the page's error view)
//   questions(ctx, data)   the authorization questions the page needs
//   render(ctx, data, answers)   the page, built from the data and the engine's answers
//   live(ctx, data, event)   optional: what a live event means to the page: null, or
//                  {refresh: true, notice?} (shown again, keeping the place), {gone: notice}

import * as accept from "./accept.js";
import * as audit from "./audit.js";
import * as groups from "./groups.js";
import * as invitations from "./invitations.js";
import * as members from "./members.js";
import * as newTicket from "./new-ticket.js";
import * as ticket from "./ticket.js";
import * as tickets from "./tickets.js";

export const PANELS = [tickets, newTicket, ticket, members, groups, invitations, audit, accept];
