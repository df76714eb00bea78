// The playground clock on the top bar: the service's (possibly moved) time, ticking locally.

import { fullTime, post } from "./util.js";

export class ClockControl {
  constructor({ now, offset, note, buttons, toast }) {
    Object.assign(this, { now, offset, note, buttons, toast });
    this.state = null;
    this.at = 0;
    for (const button of buttons) {
      button.addEventListener("click", () => this.advance(Number(button.dataset.hours), button));
    }
    setInterval(() => this.tick(), 10000);
  }

  /** Show a clock state from the server (GET/POST /playground/api/clock, or a stream event). */
  set(state) {
    this.state = state;
    this.at = Date.now();
    for (const b of this.buttons) b.disabled = !state.available;
    this.note.textContent = state.reason || "";
    this.offset.textContent = state.offset_hours ? `（已快进 ${state.offset_hours} 小时）` : "";
    this.tick();
  }

  tick() {
    if (!this.state) return;
    const iso = new Date(Date.parse(this.state.now) + (Date.now() - this.at)).toISOString();
    this.now.textContent = fullTime(iso);
    this.now.setAttribute("datetime", iso);
  }

  async advance(hours, button) {
    button.disabled = true;
    try {
      const state = await post("/playground/api/clock", { hours });
      this.set(state);
      this.toast(`已快进 ${hours} 小时` + (state.fired ? `，${state.fired} 个到期提醒已触发` : "，没有到期的提醒"));
    } catch (err) {
      this.note.textContent = err.message;
    } finally {
      button.disabled = !(this.state && this.state.available);
    }
  }
}
