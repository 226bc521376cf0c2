// WeChat JSAPI payment: hands the signed parameters the server rendered (in a JSON block, so
// the CSP can keep forbidding inline scripts) to WeixinJSBridge, which only WeChat's own
// browser provides. "ok" from the bridge is not proof of payment: the page reloads and shows
// what the platform's signed callback has recorded.
(function () {
  "use strict";
  var data = document.getElementById("wechat-jsapi");
  var button = document.getElementById("wechat-pay");
  var message = document.getElementById("wechat-pay-message");
  if (!data || !button) {
    return;
  }
  var params = JSON.parse(data.textContent);

  function say(text) {
    if (message) {
      message.textContent = text || "";
    }
  }

  function pay() {
    if (typeof window.WeixinJSBridge === "undefined") {
      say(button.dataset.noBridge);
      return;
    }
    button.disabled = true;
    window.WeixinJSBridge.invoke("getBrandWCPayRequest", params, function (res) {
      var result = (res && res.err_msg) || "";
      if (result === "get_brand_wcpay_request:ok") {
        window.location.replace(window.location.pathname); // without ?go: never pay twice
        return;
      }
      button.disabled = false;
      say(result === "get_brand_wcpay_request:cancel" ? button.dataset.cancelled : button.dataset.failed);
    });
  }

  button.addEventListener("click", pay);
  // Straight from the pay page (?go=1) the payment sheet opens by itself; on a later visit
  // (or the reload after paying) only the button does.
  if (/[?&]go=1(&|$)/.test(window.location.search)) {
    if (typeof window.WeixinJSBridge === "undefined") {
      // The bridge arrives a moment after the page in WeChat.
      document.addEventListener("WeixinJSBridgeReady", pay, false);
    } else {
      pay();
    }
  }
})();
