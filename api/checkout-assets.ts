/**
 * The hosted checkout's own style sheet and script (docs/checkout.md), served from our origin so
 * that the pages' Content-Security-Policy allows nothing else: no inline script or style, no
 * third-party asset. Small on purpose: payers are on phones, often on slow networks.
 */

export const CHECKOUT_CSS = `*{box-sizing:border-box}
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;background:#f4f5f7;color:#1c1e21;line-height:1.45}
main{max-width:28rem;margin:0 auto;padding:1rem}
.card{background:#fff;border-radius:12px;padding:1.25rem;box-shadow:0 1px 3px rgba(0,0,0,.12)}
.merchant{font-weight:600;margin:0 0 .25rem}
.logo{display:block;max-height:48px;width:auto;margin:0 0 .5rem}
h1{font-size:1.5rem;margin:.25rem 0 .75rem}
progress{width:100%;height:.8rem}
.amount{font-size:2rem;font-weight:700;margin:.25rem 0 1rem}
.desc{color:#444;margin:0 0 1rem}
fieldset{border:0;padding:0;margin:0 0 1rem}
legend{font-weight:600;margin-bottom:.5rem}
.network{display:flex;align-items:center;gap:.6rem;padding:.7rem;border:1px solid #c4c8cf;border-radius:8px;margin:.4rem 0;cursor:pointer}
.network input{width:1.2rem;height:1.2rem;margin:0}
label{display:block;font-weight:600;margin:.6rem 0 .3rem}
input[type=tel],input[type=text]{font-size:1.15rem;padding:.65rem;width:100%;border:1px solid #8a9099;border-radius:8px}
input:focus,button:focus,a:focus{outline:3px solid #1a56db;outline-offset:2px}
.hint{color:#4a4f57;font-size:.9rem;margin:.3rem 0 0}
button,.button{display:block;width:100%;font-size:1.05rem;font-weight:600;padding:.8rem;margin-top:1rem;border-radius:8px;border:0;background:#0b6b2f;color:#fff;text-align:center;text-decoration:none;cursor:pointer}
button.secondary,.button.secondary{background:#fff;color:#1c1e21;border:1px solid #8a9099}
.error{color:#a8071a;background:#fff1f0;border:1px solid #ffa39e;border-radius:8px;padding:.6rem;margin:0 0 1rem}
.notice{background:#f0f5ff;border:1px solid #adc6ff;border-radius:8px;padding:.6rem;margin:0 0 1rem}
.dial{font-size:1.4rem;font-weight:700;letter-spacing:.05em;font-family:ui-monospace,monospace}
.status{font-size:1.15rem;font-weight:600}
.ok{color:#0b6b2f}.ko{color:#a8071a}
.spinner{width:2rem;height:2rem;border:4px solid #c4c8cf;border-top-color:#0b6b2f;border-radius:50%;animation:spin 1s linear infinite;margin:1rem auto}
@keyframes spin{to{transform:rotate(360deg)}}
@media (prefers-reduced-motion:reduce){.spinner{animation:none}}
footer{color:#4a4f57;font-size:.8rem;text-align:center;margin-top:1rem}`;

/**
 * Two progressive enhancements; every step works without them:
 * - the number recognises its network as it is typed (the numbering plans are in the page, as
 *   JSON data) and checks the chosen one;
 * - a page that waits (approval, operator) follows the payment's status without reloading, by
 *   polling its tokenised status URL, and reloads when it changes.
 */
export const CHECKOUT_JS = `(function(){
"use strict";
var data=document.getElementById("checkout-data");
var cfg=data?JSON.parse(data.textContent):{};
var form=document.getElementById("choose");
if(form&&cfg.plans){
  var phone=document.getElementById("phone");
  var hint=document.getElementById("phone-hint");
  var national=function(digits,country){var p=cfg.plans[country];if(!p)return null;
    if(digits.indexOf("00"+p.callingCode)===0)digits=digits.slice(2+p.callingCode.length);
    else if(digits.indexOf(p.callingCode)===0&&digits.length===p.callingCode.length+p.nationalLength)digits=digits.slice(p.callingCode.length);
    return digits;};
  var recognise=function(){
    var digits=(phone.value||"").replace(/[^0-9]/g,"");var chosen=form.querySelector("input[name=network]:checked");
    var countries=Object.keys(cfg.plans);var found=[];
    for(var i=0;i<countries.length;i++){var c=countries[i];var n=national(digits,c);var p=cfg.plans[c];
      if(!n||n.length!==p.nationalLength)continue;var hit=null;
      for(var len=Math.min(4,n.length);len>=1&&!hit;len--){hit=p.prefixes[n.slice(0,len)]||null;}
      if(hit&&cfg.names[hit])found.push(hit);
    }
    // One network only: the number says it (an ambiguous national number, BF or ML, says nothing).
    if(found.length===1){var radio=form.querySelector("input[name=network][value="+found[0]+"]");
      if(radio&&(!chosen||chosen.dataset.auto)){radio.checked=true;radio.dataset.auto="1";}
      hint.textContent=cfg.text.recognised.replace("{network}",cfg.names[found[0]]);return;}
    hint.textContent=cfg.text.format;
  };
  phone.addEventListener("input",recognise);
}
if(cfg.statusUrl){
  var seen=cfg.state;var wait=2000;
  var look=function(){
    var x=new XMLHttpRequest();x.open("GET",cfg.statusUrl);x.setRequestHeader("Accept","application/json");
    x.onload=function(){try{var s=JSON.parse(x.responseText);if(s.state!==seen){location.reload();return;}}catch(e){}
      setTimeout(look,wait);};
    x.onerror=function(){wait=Math.min(wait*2,15000);setTimeout(look,wait);};
    x.send();
  };
  setTimeout(look,wait);
}
})();`;
