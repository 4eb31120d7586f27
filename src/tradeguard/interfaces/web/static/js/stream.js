// Live push over WebSocket /ui/stream: reconnects forever with capped exponential backoff;
// unpacks "batch" messages (several coalesced updates in one frame) for onMessage.
export class Stream {
  constructor({ onMessage, onState, path = "/ui/stream" }) {
    this.onMessage = onMessage;
    this.onState = onState;
    this.path = path;
    this.attempt = 0;
    this.ws = null;
    this.timer = null;
    this.stopped = false;
  }

  get url() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    return `${scheme}://${location.host}${this.path}`;
  }

  start() {
    this.stopped = false;
    this.connect();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    this.ws?.close(1000, "bye");
  }

  /** Send `message` (JSON) to the server when the stream is open; false when it is not. */
  send(message) {
    if (this.ws?.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify(message));
    return true;
  }

  connect() {
    this.onState(this.attempt === 0 ? "connecting" : "reconnecting", { attempt: this.attempt });
    let ws;
    try {
      ws = new WebSocket(this.url);
    } catch (err) {
      this.retry(1006);
      return;
    }
    this.ws = ws;
    ws.addEventListener("open", () => {
      this.attempt = 0;
      this.onState("live", {});
    });
    ws.addEventListener("message", (event) => {
      let message;
      try {
        message = JSON.parse(event.data);
      } catch (err) {
        console.warn("tradeguard: unreadable stream message", err);
        return;
      }
      // A "batch" carries one frame's coalesced updates: handled one by one, in order.
      const messages = message?.kind === "batch" && Array.isArray(message.data) ? message.data : [message];
      for (const one of messages) {
        try {
          this.onMessage(one);
        } catch (err) {
          console.error("tradeguard: stream handler failed", err);
        }
      }
    });
    ws.addEventListener("close", (event) => {
      if (this.ws === ws) this.ws = null;
      if (!this.stopped) this.retry(event.code);
    });
  }

  retry(code) {
    this.attempt += 1;
    const base = Math.min(10_000, 500 * 2 ** (this.attempt - 1));
    const delay = Math.round(base * (0.75 + Math.random() * 0.5));
    this.onState("reconnecting", { attempt: this.attempt, delay, code });
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.connect(), delay);
  }
}
