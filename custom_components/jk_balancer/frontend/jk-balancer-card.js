/*
 * JK balancer cell card: every cell of a balancer (or a pack of cascaded
 * balancers) as its deviation from the pack average on a fixed millivolt
 * scale, the highest red and the lowest blue as the JK app shows them (all
 * tied cells marked), cells near power-off or full charge warned, the
 * difference, the balancing status and current, the cells whose balance wire
 * is too resistive, and the pack total. Numbers follow the user's locale.
 *
 * Served and registered by the JK Active Balancer integration; a plain web
 * component, no build step. It reads the balancer's entities, which the
 * integration names for it (websocket jk_balancer/device_entities), so it
 * keeps working through restarts, proxies and renamed entities.
 */

const CARD = "jk-balancer-card";
const DOMAIN = "jk_balancer";
// Half the bar: a deviation from the average this large (V) fills one side.
// Fixed, so a healthy pack looks calm and a bad cell looks bad.
const SCALE = 0.05;

const WORDS = {
  en: {
    total: "Total",
    delta: "Difference",
    highest: "highest",
    lowest: "lowest",
    average: "average",
    noCells: "No cells measured: check the balance connector.",
    unavailable: "Unavailable",
    pick: "Pick a JK balancer in the card's settings.",
    notFound: "This device is not a JK balancer (any more).",
    wire: "Balance wire resistance too high",
    low: "nearly empty",
    high: "nearly full",
    powerOff: "power-off at",
    full: "full at",
    units: (busy, all) => `${busy} of ${all} balancers balancing`,
    device: "Balancer",
    cell: "Cell",
    cells: "Cells",
    name: "JK balancer cells",
    description:
      "Every cell of a JK balancer against the pack average, the highest red and the lowest blue.",
  },
  de: {
    total: "Gesamt",
    delta: "Differenz",
    highest: "höchste",
    lowest: "niedrigste",
    average: "Mittel",
    noCells: "Keine Zellen gemessen: Balancerstecker prüfen.",
    unavailable: "Nicht verfügbar",
    pick: "Wähle in den Einstellungen der Karte einen JK-Balancer.",
    notFound: "Dieses Gerät ist (nicht mehr) ein JK-Balancer.",
    wire: "Widerstand der Balancerleitung zu hoch",
    low: "fast leer",
    high: "fast voll",
    powerOff: "Abschaltung bei",
    full: "voll bei",
    units: (busy, all) => `${busy} von ${all} Balancern gleichen aus`,
    device: "Balancer",
    cell: "Zelle",
    cells: "Zellen",
    name: "JK-Balancer-Zellen",
    description:
      "Alle Zellen eines JK-Balancers gegen das Mittel, die höchste rot, die niedrigste blau.",
  },
  "zh-Hans": {
    total: "总电压",
    delta: "压差",
    highest: "最高",
    lowest: "最低",
    average: "平均",
    noCells: "未测量到电芯：请检查均衡插头。",
    unavailable: "不可用",
    pick: "请在卡片设置中选择一个 JK 均衡器。",
    notFound: "此设备不是（或不再是）JK 均衡器。",
    wire: "均衡线电阻过高",
    low: "即将放空",
    high: "即将充满",
    powerOff: "关机电压",
    full: "充满电压",
    units: (busy, all) => `${all} 个均衡器中 ${busy} 个在均衡`,
    device: "均衡器",
    cell: "电芯",
    cells: "电芯",
    name: "JK 均衡器电芯",
    description: "JK 均衡器的所有电芯相对平均值，最高为红色，最低为蓝色。",
  },
};

function words(hass) {
  const language = (hass && hass.language) || "en";
  return WORDS[language] || WORDS[language.split("-")[0]] || WORDS.en;
}

// The locale Home Assistant formats numbers in (the user's number format).
const NUMBER_LOCALES = {
  comma_decimal: ["en-US", "en"],
  decimal_comma: ["de", "es", "it"],
  space_comma: ["fr", "sv", "cs"],
};

function formatter(hass, digits) {
  const locale = (hass && hass.locale) || {};
  const language = locale.language || (hass && hass.language) || "en";
  const format = locale.number_format || "language";
  const options = { minimumFractionDigits: digits, maximumFractionDigits: digits };
  if (format === "none") {
    return new Intl.NumberFormat(language, { ...options, useGrouping: false });
  }
  const locales =
    NUMBER_LOCALES[format] || (format === "system" ? undefined : [language, "en"]);
  return new Intl.NumberFormat(locales, options);
}

function escape(text) {
  return String(text).replace(
    /[&<>"']/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c],
  );
}

function number(state) {
  const value = state ? Number.parseFloat(state.state) : Number.NaN;
  return Number.isFinite(value) ? value : null;
}

// Cells as shown (to the mV) tie when they read the same.
function millivolts(value) {
  return Math.round(value * 1000);
}

class JKBalancerCard extends HTMLElement {
  static getConfigElement() {
    return document.createElement(`${CARD}-editor`);
  }

  static getStubConfig(hass) {
    const entity = Object.values(hass.entities || {}).find(
      (item) => item.platform === DOMAIN && item.device_id,
    );
    return { device_id: entity ? entity.device_id : "" };
  }

  setConfig(config) {
    this._config = { ...config };
    this._roles = null;
    this._asked = null;
    this._render();
  }

  set hass(hass) {
    this._hass = hass;
    this._fetchRoles();
    // Every state change in Home Assistant comes here: draw only for ours.
    const shown = this._shownStates();
    if (
      this._shown &&
      shown.length === this._shown.length &&
      shown.every((state, index) => state === this._shown[index])
    ) {
      return;
    }
    // A new power-off voltage moves the working range: ask for it again.
    if (this._roles && this._powerOff !== this._state("power_off_voltage")?.state) {
      this._asked = null;
      this._fetchRoles();
    }
    this._shown = shown;
    this._render();
  }

  _shownStates() {
    if (!this._roles || !this._hass) {
      return [];
    }
    const ids = [...this._roles.cells, ...Object.values(this._roles.entities)];
    // A new language's states are translated once its strings are loaded:
    // Home Assistant then hands over new localize and format functions.
    return [
      this._hass.language,
      this._hass.locale,
      this._hass.localize,
      this._hass.formatEntityState,
      ...ids.map((id) => this._hass.states[id]),
    ];
  }

  getCardSize() {
    const cells = this._roles ? this._roles.cells.length : 8;
    return 3 + Math.ceil(cells / 2);
  }

  getGridOptions() {
    return { columns: 12, min_columns: 6, rows: "auto" };
  }

  async _fetchRoles() {
    const deviceId = this._config && this._config.device_id;
    if (!this._hass || !deviceId || this._asked === deviceId) {
      return;
    }
    this._asked = deviceId;
    try {
      const roles = await this._hass.callWS({
        type: `${DOMAIN}/device_entities`,
        device_id: deviceId,
      });
      this._roles = roles;
      this._powerOff = this._state("power_off_voltage")?.state;
      this._missing = false;
      this._shown = null;
      // Until the entry is loaded its working range is not known.
      if (!roles.range) {
        this._asked = null;
      }
    } catch (_err) {
      this._roles = null;
      this._missing = true;
      // Ask again with the next update: the integration may still be loading.
      this._asked = null;
    }
    this._render();
  }

  _state(role) {
    const entityId = this._roles && this._roles.entities[role];
    return entityId ? this._hass.states[entityId] : undefined;
  }

  _render() {
    if (!this._config) {
      return;
    }
    if (!this.shadowRoot) {
      this.attachShadow({ mode: "open" });
    }
    const w = words(this._hass);
    let body;
    if (!this._config.device_id) {
      body = `<div class="note">${escape(w.pick)}</div>`;
    } else if (!this._hass || !this._roles) {
      body = `<div class="note">${escape(this._missing ? w.notFound : "…")}</div>`;
    } else {
      body = this._pack(w);
    }
    const title = this._config.title || (this._roles && this._roles.name) || w.name;
    this.shadowRoot.innerHTML = `
      <style>${STYLE}</style>
      <ha-card>
        <div class="header">
          <span class="name">${escape(title)}</span>
          ${this._total(w)}
        </div>
        ${body}
      </ha-card>`;
  }

  _total(w) {
    const value = number(this._state("total_voltage"));
    if (value === null) {
      return "";
    }
    const volts = formatter(this._hass, 2).format(value);
    return `<span class="total" title="${escape(w.total)}">${volts} V</span>`;
  }

  _pack(w) {
    const voltages = this._roles.cells.map((entityId) =>
      number(this._hass.states[entityId]),
    );
    const measured = voltages.filter((value) => value !== null);
    const status = this._status(w);
    if (!measured.length) {
      return `${status}<div class="note">${escape(w.noCells)}</div>`;
    }
    const volts = formatter(this._hass, 3);
    const lowest = millivolts(Math.min(...measured));
    const highest = millivolts(Math.max(...measured));
    const average = measured.reduce((sum, value) => sum + value, 0) / measured.length;
    const range = this._roles.range;
    const trigger = number(this._state("balance_trigger_voltage"));
    const wires = new Set(
      (this._state("wire_resistance_warning")?.attributes?.cells || []).map(Number),
    );
    const numbered = (predicate) =>
      voltages
        .map((value, index) => (value !== null && predicate(value) ? index + 1 : null))
        .filter((cell) => cell !== null);
    // With every cell equal there is no highest or lowest to point at.
    const spread = highest !== lowest;
    const lows = spread ? numbered((v) => millivolts(v) === lowest) : [];
    const highs = spread ? numbered((v) => millivolts(v) === highest) : [];
    const nearEmpty = range ? numbered((v) => v < range.low) : [];
    const nearFull = range ? numbered((v) => v > range.high) : [];
    const rows = voltages
      .map((value, index) =>
        this._cell(w, volts, index + 1, value, average, {
          low: lows.includes(index + 1),
          high: highs.includes(index + 1),
          warn: nearEmpty.includes(index + 1) || nearFull.includes(index + 1),
          wire: wires.has(index + 1),
        }),
      )
      .join("");
    const marks = trigger === null ? "--mark-display:none" : this._marks(trigger / 1000);
    const notes = [
      ...nearEmpty.map((cell) =>
        this._note(
          "mdi:battery-alert-variant-outline",
          `${w.cell} ${cell}: ${volts.format(voltages[cell - 1])} V, ${w.low}
           (${w.powerOff} ${formatter(this._hass, 2).format(range.power_off)} V)`,
        ),
      ),
      ...nearFull.map((cell) =>
        this._note(
          "mdi:battery-alert",
          `${w.cell} ${cell}: ${volts.format(voltages[cell - 1])} V, ${w.high}
           (${w.full} ${formatter(this._hass, 2).format(range.full)} V)`,
        ),
      ),
      ...(wires.size
        ? [this._note("mdi:cable-data", `${w.wire}: ${wires.size > 1 ? w.cells : w.cell} ${[...wires].join(", ")}`)]
        : []),
    ].join("");
    const delta = formatter(this._hass, 0).format(highest - lowest);
    const legend = spread
      ? `<span class="legend">
           <span class="key high"><i></i>${escape(w.highest)} ${highs.join(", ")}</span>
           <span class="key low"><i></i>${escape(w.lowest)} ${lows.join(", ")}</span>
         </span>`
      : "";
    const scale = formatter(this._hass, 0).format(SCALE * 1000);
    return `
      ${status}
      <div class="summary">
        <span>${escape(w.delta)} <b>${delta} mV</b></span>
        ${legend}
      </div>
      ${notes}
      <div class="axis" aria-hidden="true">
        <span>−${scale} mV</span><span>${escape(w.average)}
          ${volts.format(average)} V</span><span>+${scale} mV</span>
      </div>
      <div class="cells ${voltages.length > 8 ? "two" : ""}" style="${marks}">
        ${rows}
      </div>`;
  }

  // Where the trigger delta sits on the bar, each side of the average.
  _marks(trigger) {
    const offset = Math.min(trigger / SCALE, 1) * 50;
    return `--mark-low:${(50 - offset).toFixed(1)}%;--mark-high:${(50 + offset).toFixed(1)}%`;
  }

  _cell(w, volts, cell, value, average, kind) {
    const classes = ["cell", kind.high ? "high" : "", kind.low ? "low" : ""];
    if (kind.warn) {
      classes.push("warn");
    }
    let bar = "";
    if (value !== null) {
      const share = Math.max(-1, Math.min(1, (value - average) / SCALE));
      const width = Math.abs(share) * 50;
      const start = share < 0 ? 50 - width : 50;
      const beyond = Math.abs(share) >= 1 ? " beyond" : "";
      bar = `<span class="fill${beyond}"
        style="left:${start.toFixed(1)}%;width:${Math.max(width, 0.8).toFixed(1)}%"></span>`;
    }
    const icon = kind.warn
      ? `<ha-icon class="alert" icon="mdi:alert"></ha-icon>`
      : kind.wire
        ? `<ha-icon class="wire" icon="mdi:cable-data" title="${escape(w.wire)}"></ha-icon>`
        : "<span></span>";
    return `
      <div class="${classes.join(" ").trim()}" title="${escape(w.cell)} ${cell}">
        <span class="number">${cell}</span>
        <span class="bar"><span class="marks"></span>${bar}</span>
        <span class="volts">${value === null ? "–" : volts.format(value)}</span>
        ${icon}
      </div>`;
  }

  _note(icon, text) {
    return `<div class="warning"><ha-icon icon="${icon}"></ha-icon>
      <span>${escape(text)}</span></div>`;
  }

  _status(w) {
    const units = this._roles.units;
    const busy = number(this._state("balancing_units"));
    if (units && busy !== null) {
      const icon = busy ? "mdi:swap-horizontal-bold" : "mdi:scale-balance";
      return `
        <div class="status ${busy ? "balancing" : ""}">
          <ha-icon icon="${icon}"></ha-icon>
          <span>${escape(w.units(busy, units))}</span>
        </div>`;
    }
    const status = this._state("balancing_status");
    if (!status) {
      return "";
    }
    const text =
      status.state === "unavailable"
        ? w.unavailable
        : this._hass.formatEntityState
          ? this._hass.formatEntityState(status)
          : status.state;
    const balancing = status.state === "balancing";
    const current = number(this._state("balancing_current"));
    const from = this._state("max_voltage_cell")?.state;
    const to = this._state("min_voltage_cell")?.state;
    const flow =
      balancing && current !== null
        ? `<span class="flow">${escape(w.cell)} ${escape(from)} → ${escape(to)},
             ${formatter(this._hass, 2).format(Math.abs(current))} A</span>`
        : "";
    const icon = balancing ? "mdi:swap-horizontal-bold" : "mdi:scale-balance";
    return `
      <div class="status ${escape(status.state)}">
        <ha-icon icon="${icon}"></ha-icon>
        <span>${escape(text)}</span>
        ${flow}
      </div>`;
  }
}

// The JK app's colours: the highest cell red, the lowest blue.
const STYLE = `
  ha-card { padding: 12px 16px 16px; --jk-high: #e53935; --jk-low: #1e88e5; }
  .header { display: flex; justify-content: space-between; align-items: baseline; }
  .name { font-size: 1.15em; font-weight: 500; color: var(--primary-text-color); }
  .total { font-size: 1.15em; color: var(--primary-text-color); }
  .note { padding: 12px 0; color: var(--secondary-text-color); }
  .status {
    display: flex; flex-wrap: wrap; align-items: center; gap: 6px;
    margin: 8px 0 4px; color: var(--primary-text-color);
  }
  .status ha-icon { --mdc-icon-size: 20px; color: var(--state-icon-color); }
  .status.balancing ha-icon { color: var(--success-color, #43a047); }
  .status.wire_resistance_too_high ha-icon, .status.cell_count_mismatch ha-icon,
  .status.no_cells ha-icon { color: var(--warning-color, #ffa600); }
  .flow { color: var(--secondary-text-color); }
  .summary {
    display: flex; flex-wrap: wrap; justify-content: space-between; gap: 4px 12px;
    margin: 4px 0 6px; color: var(--secondary-text-color);
  }
  .summary b { color: var(--primary-text-color); font-weight: 500; }
  .legend { display: flex; flex-wrap: wrap; gap: 4px 12px; }
  .key i {
    display: inline-block; width: 10px; height: 10px; border-radius: 2px;
    margin-right: 4px; vertical-align: -1px;
  }
  .key.high i { background: var(--jk-high); }
  .key.low i { background: var(--jk-low); }
  .warning {
    display: flex; align-items: center; gap: 6px; margin: 2px 0 6px;
    color: var(--primary-text-color);
  }
  .warning ha-icon { --mdc-icon-size: 18px; color: var(--warning-color, #ffa600); }
  .axis {
    display: flex; justify-content: space-between; margin: 6px 0 2px;
    padding: 0 calc(20px + 4.5em) 0 calc(2em + 6px);
    font-size: 0.75em; color: var(--secondary-text-color);
  }
  .cells { display: grid; grid-template-columns: 1fr; gap: 3px 16px; }
  .cells.two { grid-template-columns: repeat(auto-fill, minmax(230px, 1fr)); }
  .cell {
    display: grid; grid-template-columns: 2em 1fr 4em 20px; align-items: center;
    gap: 6px; font-size: 0.9em; line-height: 20px; color: var(--primary-text-color);
  }
  .number { text-align: right; color: var(--secondary-text-color); }
  .bar {
    position: relative; height: 12px; border-radius: 3px; overflow: hidden;
    background: var(--divider-color, rgba(127, 127, 127, 0.2));
  }
  .marks {
    position: absolute; inset: 0;
    background:
      linear-gradient(var(--secondary-text-color), var(--secondary-text-color))
        50% / 1px 100% no-repeat;
  }
  .marks::before, .marks::after {
    content: ""; position: absolute; top: 0; bottom: 0; width: 0;
    border-left: 1px dashed var(--secondary-text-color); opacity: 0.7;
    display: var(--mark-display, block);
  }
  .marks::before { left: var(--mark-low, 40%); }
  .marks::after { left: var(--mark-high, 60%); }
  .fill {
    position: absolute; top: 2px; bottom: 2px; border-radius: 2px;
    background: var(--jk-cell-color, #8a9bab);
  }
  .fill.beyond { box-shadow: inset 0 0 0 2px var(--primary-text-color); }
  .volts { text-align: right; font-variant-numeric: tabular-nums; }
  .cell.high .fill { background: var(--jk-high); }
  .cell.low .fill { background: var(--jk-low); }
  .cell.high .volts { color: var(--jk-high); font-weight: 500; }
  .cell.low .volts { color: var(--jk-low); font-weight: 500; }
  .cell.warn .volts { color: var(--warning-color, #ffa600); font-weight: 700; }
  .alert, .wire { --mdc-icon-size: 18px; color: var(--warning-color, #ffa600); }
`;

class JKBalancerCardEditor extends HTMLElement {
  setConfig(config) {
    this._config = { ...config };
    this._render();
  }

  set hass(hass) {
    this._hass = hass;
    this._render();
  }

  _render() {
    if (!this._hass || !this._config) {
      return;
    }
    if (!this._form) {
      this._form = document.createElement("ha-form");
      this._form.computeLabel = (schema) =>
        schema.name === "device_id" ? words(this._hass).device : undefined;
      this._form.addEventListener("value-changed", (event) => {
        this._config = { ...this._config, ...event.detail.value };
        this.dispatchEvent(
          new CustomEvent("config-changed", {
            detail: { config: this._config },
            bubbles: true,
            composed: true,
          }),
        );
      });
      this.appendChild(this._form);
    }
    this._form.hass = this._hass;
    this._form.data = this._config;
    this._form.schema = [
      { name: "device_id", selector: { device: { filter: { integration: DOMAIN } } } },
    ];
  }
}

function register() {
  const registry = window.customElements;
  if (registry.get(CARD)) {
    return;
  }
  registry.define(CARD, JKBalancerCard);
  registry.define(`${CARD}-editor`, JKBalancerCardEditor);
  window.customCards = window.customCards || [];
  window.customCards.push({
    type: CARD,
    name: WORDS.en.name,
    description: WORDS.en.description,
    preview: true,
  });
}

// Home Assistant's app replaces the custom element registry when it starts,
// and an integration's module can run before that: define the card once the
// app is there, in the registry its dashboards look in.
window.customElements.whenDefined("home-assistant").then(register);
