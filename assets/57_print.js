// The analyst's report: the browser prints the page as it is (Save as PDF), with a header naming the
// panel, area, range and time (assets/40_pages.css shows it in print only).
window.dash_clientside = Object.assign({}, window.dash_clientside, {
  cityvitals_report: {
    print: function (clicks) {
      if (clicks) {
        window.print();
      }
      return dash_clientside.no_update;
    },
  },
});
