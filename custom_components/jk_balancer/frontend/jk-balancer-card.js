/*
 * JK balancer cell card: every cell of a balancer as a bar with its voltage,
 * the lowest red and the highest blue (as the JK app shows them), the delta,
 * the balancing status, direction and current, the cells whose balance wire
 * is too resistive, and the pack total.
 *
 * Served and registered by the JK Active Balancer integration; a plain web
 * component, no build step. It reads the balancer's entities, which the
 * integration names for it (websocket jk_balancer/device_entities), so it
 * keeps working through restarts, proxies and renamed entities.
 */

const CARD = "jk-balancer-card";
const DOMAIN = "jk_balancer";

const WORDS = {
  en: {
    total: "Total",
    delta: "Difference",
    noCells: "No cells measured: check the balance connector.",
    unavailable: "Unavailable",
    pick: "Pick a JK balancer in the card's settings.",
    notFound: "This device is not a JK balancer (any more).",
    wire: "balance wire resistance too high",
    device: "Balancer",
    cell: "cell",
    name: "JK balancer cells",
    description: "Every cell of a JK balancer, the lowest red and the highest blue.",
  },
  de: {
    total: "Gesamt",
    delta: "Differenz",
    noCells: "Keine Zellen gemessen: Balancerstecker prüfen.",
    unavailable: "Nicht verfügbar",
    pick: "Wähle in den Einstellungen der Karte einen JK-Balancer.",
    notFound: "Dieses Gerät ist (nicht mehr) ein JK-Balancer.",
    wire: "Widerstand der Balancerleitung zu hoch",
    device: "Balancer",
    cell: "Zelle",
    name: "JK-Balancer-Zellen",
    description: "Alle Zellen eines JK-Balancers, die niedrigste rot, die höchste blau.",
  },
  "zh-Hans": {
    total: "总电压",
    delta: "压差",
    noCells: "未测量到电芯：请检查均衡插头。",
    unavailable: "不可用",
    pick: "请在卡片设置中选择一个 JK 均衡器。",
    notFound: "此设备不是（或不再是）JK 均衡器。",
    wire: "均衡线电阻过高",
    device: "均衡器",
    cell: "电芯",
    name: "JK 均衡器电芯",
    description: "JK 均衡器的所有电芯，最低为红色，最高为蓝色。",
  },
};

function words(hass) {
  const language = (hass && hass.language) || "en";
  return WORDS[language] || WORDS[language.split("-")[0]] || WORDS.en;
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
    this._shown = shown;
    this._render();
  }

  _shownStates() {
    if (!this._roles || !this._hass) {
      return [];
    }
    const ids = [...this._roles.cells, ...Object.values(this._roles.entities)];
    return [this._hass.language, ...ids.map((id) => this._hass.states[id])];
  }

  getCardSize() {
    const cells = this._roles ? this._roles.cells.length : 8;
    return 2 + Math.ceil(cells / 2);
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
      this._roles = await this._hass.callWS({
        type: `${DOMAIN}/device_entities`,
        device_id: deviceId,
      });
      this._missing = false;
      this._shown = null;
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
    const total = this._state("total_voltage");
    const value = number(total);
    if (value === null) {
      return "";
    }
    return `<span class="total" title="${escape(w.total)}">${value.toFixed(2)} V</span>`;
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
    const lowest = Math.min(...measured);
    const highest = Math.max(...measured);
    const spread = highest - lowest;
    // Bars start a little below the lowest cell, so differences of a few mV show.
    const floor = lowest - Math.max(0.01, spread * 0.6);
    const ceiling = highest + 0.002;
    const lowCell = voltages.indexOf(lowest);
    const highCell = voltages.indexOf(highest);
    const warned = new Set(
      (this._state("wire_resistance_warning")?.attributes?.cells || []).map(Number),
    );
    const rows = voltages
      .map((value, index) => {
        const cell = index + 1;
        const kind = index === lowCell ? "low" : index === highCell ? "high" : "";
        const width =
          value === null ? 0 : Math.max(2, ((value - floor) / (ceiling - floor)) * 100);
        const warning = warned.has(cell)
          ? `<ha-icon class="wire" icon="mdi:cable-data" title="${escape(w.wire)}"></ha-icon>`
          : "";
        return `
          <div class="cell ${kind}" title="${escape(w.cell)} ${cell}">
            <span class="number">${cell}</span>
            <span class="bar"><span style="width:${width.toFixed(1)}%"></span></span>
            <span class="volts">${value === null ? "–" : value.toFixed(3)}</span>
            ${warning}
          </div>`;
      })
      .join("");
    return `
      ${status}
      <div class="summary">
        <span>${escape(w.delta)} <b>${(spread * 1000).toFixed(0)} mV</b></span>
        <span class="legend"><i class="low"></i>${lowCell + 1}
          <i class="high"></i>${highCell + 1}</span>
      </div>
      <div class="cells ${voltages.length > 8 ? "two" : ""}">${rows}</div>`;
  }

  _status(w) {
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
             ${Math.abs(current).toFixed(2)} A</span>`
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

const STYLE = `
  ha-card { padding: 12px 16px 16px; }
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
    display: flex; justify-content: space-between; margin: 4px 0 8px;
    color: var(--secondary-text-color);
  }
  .summary b { color: var(--primary-text-color); font-weight: 500; }
  .legend i {
    display: inline-block; width: 10px; height: 10px; border-radius: 2px;
    margin: 0 3px 0 8px; vertical-align: -1px;
  }
  .cells { display: grid; grid-template-columns: 1fr; gap: 3px 16px; }
  .cells.two { grid-template-columns: repeat(auto-fill, minmax(150px, 1fr)); }
  .cell {
    display: grid; grid-template-columns: 2em 1fr auto 20px; align-items: center;
    gap: 6px; font-size: 0.9em; line-height: 20px; color: var(--primary-text-color);
  }
  .number { text-align: right; color: var(--secondary-text-color); }
  .bar {
    height: 12px; border-radius: 6px; overflow: hidden;
    background: var(--divider-color, rgba(127, 127, 127, 0.2));
  }
  .bar span {
    display: block; height: 100%; border-radius: 6px;
    background: var(--jk-cell-color, #8a9bab);
  }
  .volts { font-variant-numeric: tabular-nums; }
  .cell.low .bar span, .legend i.low { background: var(--error-color, #db4437); }
  .cell.high .bar span, .legend i.high { background: var(--info-color, #2196f3); }
  .cell.low .volts { color: var(--error-color, #db4437); }
  .cell.high .volts { color: var(--info-color, #2196f3); }
  .wire { --mdc-icon-size: 18px; color: var(--warning-color, #ffa600); }
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
