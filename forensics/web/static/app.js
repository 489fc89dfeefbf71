// proof-forensics reviewer app: the few behaviours the pages need (no inline script: CSP).
"use strict";

function boxesOf(id) {
  return document.querySelectorAll('rect.box[data-id="' + CSS.escape(id) + '"]');
}

function setShown(id, shown) {
  boxesOf(id).forEach(function (r) { r.classList.toggle("hidden", !shown); });
}

function setLit(id, lit) {
  boxesOf(id).forEach(function (r) { r.classList.toggle("lit", lit); });
  document.querySelectorAll('[data-box="' + CSS.escape(id) + '"]').forEach(function (el) {
    if (el.tagName !== "INPUT") { el.classList.toggle("lit", lit); }
  });
}

function wireEvidence() {
  // a finding's (or field's) checkbox shows or hides its boxes on the page
  document.querySelectorAll("input.box-toggle").forEach(function (box) {
    box.addEventListener("change", function () { setShown(box.dataset.box, box.checked); });
  });
  // hovering a finding (or a field row) lights its boxes up
  document.querySelectorAll("li.finding[data-box], tr[data-box]").forEach(function (el) {
    el.addEventListener("mouseenter", function () { setLit(el.dataset.box, true); });
    el.addEventListener("mouseleave", function () { setLit(el.dataset.box, false); });
  });
}

function wireCompare() {
  var over = document.getElementById("swipe-over");
  var slider = document.getElementById("swipe");
  var blink = document.getElementById("blink");
  if (!over || !slider) { return; }
  function clip() { over.style.clipPath = "inset(0 0 0 " + slider.value + "%)"; }
  slider.addEventListener("input", clip);
  clip();
  var timer = null;
  blink.addEventListener("click", function () {
    if (timer) {
      clearInterval(timer); timer = null; over.classList.remove("blink-off");
      blink.setAttribute("aria-pressed", "false"); clip(); return;
    }
    over.style.clipPath = "none";
    blink.setAttribute("aria-pressed", "true");
    timer = setInterval(function () { over.classList.toggle("blink-off"); }, 600);
  });
}

document.addEventListener("DOMContentLoaded", function () {
  wireEvidence();
  wireCompare();
});
