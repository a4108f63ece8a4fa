// Ages and the clock tick in the browser. The server sends times, not texts that go out of date: an age is
// an element with data-ts (Unix seconds; a countdown: data-until), and the overview carries data-now (the server's clock when it was
// built). So a refresh whose data did not move sends nothing, the wall's ages still move every second, and
// they keep moving (truthfully growing) while the server is away.
(function () {
  let pageNow = null;
  let offset = 0; // server clock minus this browser's clock: a wall's clock may be off

  // The same texts as dashboard/components.py age_text.
  function ageText(seconds) {
    seconds = Math.max(0, seconds); // data a moment newer than the page's clock: "0 s", not "-0 s"
    if (seconds < 90) return `${seconds.toFixed(0)} s`;
    if (seconds < 5400) return `${(seconds / 60).toFixed(0)} min`;
    if (seconds < 172800) return `${(seconds / 3600).toFixed(0)} h`;
    return `${(seconds / 86400).toFixed(0)} d`;
  }

  // The city's wall time (the clock's data-tz, as dashboard/clock.py shows every time), not the browser's.
  function clockText(date, timeZone) {
    const parts = {};
    new Intl.DateTimeFormat("en-GB", {timeZone, hourCycle: "h23", year: "numeric", month: "2-digit",
      day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit"})
      .formatToParts(date).forEach((p) => { parts[p.type] = p.value; });
    return `${parts.year}-${parts.month}-${parts.day} ${parts.hour}:${parts.minute}:${parts.second}`;
  }

  function tick() {
    const page = document.querySelector("[data-now]");
    if (page && page.dataset.now !== pageNow) {
      pageNow = page.dataset.now;
      offset = Number(pageNow) - Date.now() / 1000;
    }
    const now = Date.now() / 1000 + offset;
    document.querySelectorAll("[data-ts]").forEach((el) => {
      const text = ageText(now - Number(el.dataset.ts));
      if (el.textContent !== text) el.textContent = text;
    });
    // a countdown: the time left until data-until (a state waiting out its minimum duration)
    document.querySelectorAll("[data-until]").forEach((el) => {
      const text = ageText(Math.max(0, Number(el.dataset.until) - now));
      if (el.textContent !== text) el.textContent = text;
    });
    const clock = document.getElementById("clock");
    if (clock) {
      const time = clockText(new Date(now * 1000), clock.dataset.tz);
      if (clock.textContent !== time) clock.textContent = time;  // a change only when it is one
    }
  }

  setInterval(tick, 1000);
  // A part the server built earlier for another screen carries the age of then: correct it as it arrives.
  let queued = false;
  new MutationObserver(() => {
    if (!queued) {
      queued = true;
      requestAnimationFrame(() => { queued = false; tick(); });
    }
  }).observe(document.documentElement, {childList: true, subtree: true});
})();
