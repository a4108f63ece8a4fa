// Browser side of the wall: kiosk look from the query string, and the connection-lost mark.
// Both run in the browser, so they keep working while the server is away.
window.dash_clientside = Object.assign({}, window.dash_clientside, {
  cityvitals: {
    kiosk: function (search) {
      const on = /[?&]kiosk=(?!0|false)[^&]/.test(search || "");
      return [on ? "app kiosk" : "app", !on];
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
      const since = new Date(state.lastOk).toLocaleTimeString("zh-CN", {hour12: false});
      return ["conn-lost", "⚠ 连接中断 connection lost · 数据停在 data as of " + since];
    },
  },
});
