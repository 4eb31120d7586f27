// Dashboard: the order of trade views. Each live trade view carries the server's `version`
// (app.live_views: it grows with every change of the view). Views arrive by two roads, the
// stream and `GET /ui/api/trades` replies, and a slow reply can land after a newer stream
// update: the page keeps the newer view and drops the older one.

/** True when `incoming` is an older view of the trade than `current` (both versioned). */
export function isOlder(incoming, current) {
  const a = incoming?.version;
  const b = current?.version;
  return typeof a === "number" && typeof b === "number" && a < b;
}

/** The view to keep of `incoming` and `current` (the current one when incoming is older). */
export function newer(incoming, current) {
  return current && isOlder(incoming, current) ? current : incoming;
}
