// The dashboard's few behaviours: the overview follows the campaign status live (server-sent
// events), and the campaign picker opens the same page of the campaign picked.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const pick = document.getElementById("campaign-select");
  if (pick) {
    pick.addEventListener("change", () => {
      const section = pick.dataset.section === "overview" ? "" : "/" + pick.dataset.section;
      location.assign("/campaigns/" + encodeURIComponent(pick.value) + section);
    });
  }
  const live = document.getElementById("live");
  if (!live) return;
  const note = document.getElementById("connection");
  const say = (state) => {
    note.textContent = note.dataset[state];
    note.className = "connection " + state;
  };
  const events = new EventSource(live.dataset.events);
  events.addEventListener("open", () => say("live"));
  events.addEventListener("status", (e) => {
    live.innerHTML = e.data; // rendered and escaped by the server
    say("live");
  });
  events.addEventListener("signin", () => {
    events.close();
    location.assign("/login");
  });
  events.addEventListener("error", () => {
    if (events.readyState === EventSource.CLOSED) location.assign("/login");
    else say("reconnecting");
  });
});
