// Browser side of the wall: kiosk look and language from the query string, and the connection-lost mark.
// Both run in the browser, so they keep working while the server is away.
const LANGS = ["zh", "en"];

// The language to show: a click on the switch, else ?lang= in the URL, else the one remembered, else Chinese.
function chooseLang(params, stored) {
  const clicked = (dash_clientside.callback_context.triggered || [])
    .filter(t => t.value && t.prop_id.includes("lang-button"))
    .map(t => JSON.parse(t.prop_id.slice(0, t.prop_id.lastIndexOf("."))).lang);
  const candidates = [clicked[0], params.get("lang"), stored];
  return candidates.find(l => LANGS.includes(l)) || "zh";
}

window.dash_clientside = Object.assign({}, window.dash_clientside, {
  cityvitals: {
    view: function (search, _clicks, stored) {
      const params = new URLSearchParams(search || "");
      const kiosk = /[?&]kiosk=(?!0|false)[^&]/.test(search || "");
      const lang = chooseLang(params, stored);
      document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";
      const cls = "app lang-" + lang + (kiosk ? " kiosk" : "");
      return [cls, !kiosk, lang === stored ? dash_clientside.no_update : lang];
    },
    mapSize: function (_n, _area, old) {
      const el = document.getElementById("area-map");
      if (!el || !el.clientWidth || !el.clientHeight) {
        return dash_clientside.no_update;
      }
      const size = [el.clientWidth, el.clientHeight];
      return old && old[0] === size[0] && old[1] === size[1] ? dash_clientside.no_update : size;
    },
    connection: async function () {
      const state = window.cityvitalsConnection = window.cityvitalsConnection || {lastOk: Date.now()};
      let ok = false;
      try {
        const resp = await fetch("/readyz", {cache: "no-store", signal: AbortSignal.timeout(4000)});
        ok = resp.ok;
      } catch (err) {
        ok = false;  // refused, reset or timed out: the server is away
      }
      if (ok) {
        state.lastOk = Date.now();
        return ["conn-lost hidden", ""];
      }
      const clock = document.getElementById("clock");  // the city's zone, as every time shown
      const since = new Date(state.lastOk).toLocaleTimeString("zh-CN", {hour12: false, timeZone: clock && clock.dataset.tz});
      return ["conn-lost", "⚠ 连接中断 connection lost · 数据停在 data as of " + since];
    },
  },
});
