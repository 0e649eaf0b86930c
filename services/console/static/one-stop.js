// Shows the one-stop reconciliation as the clerk types: what was received must equal
// what was resolved, is pending, or was returned or withdrawn. The service checks it
// again on submission; without this script the form works the same.
(function () {
  var form = document.getElementById("one-stop");
  var out = document.getElementById("reconcile-live");
  if (!form || !out) return;
  function n(id) {
    var v = (document.getElementById(id) || {}).value || "";
    var x = parseInt(v.replace(/\./g, ""), 10);
    return isNaN(x) ? 0 : x;
  }
  function fmt(x) { return x.toString().replace(/\B(?=(\d{3})+(?!\d))/g, "."); }
  function show() {
    var received = n("received_online") + n("received_in_person_or_post") + n("received_carried_over");
    var resolved = n("resolved_early") + n("resolved_on_time") + n("resolved_late");
    var pending = n("pending_within_time") + n("pending_overdue");
    var returned = n("returned_withdrawn");
    var diff = received - (resolved + pending + returned);
    out.textContent = "Tiếp nhận " + fmt(received) + " = đã giải quyết " + fmt(resolved) +
      " + đang giải quyết " + fmt(pending) + " + trả lại, rút " + fmt(returned) +
      (diff === 0 ? ": khớp." : ": đang lệch " + fmt(diff) + " hồ sơ.");
    out.className = diff === 0 ? "notice" : "field-error";
  }
  form.addEventListener("input", show);
  show();
})();
