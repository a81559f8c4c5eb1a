import type { Invoice } from './invoices.js';

const escape = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

const style = `body{font-family:system-ui,sans-serif;max-width:28rem;margin:3rem auto;padding:0 1rem;color:#222}
.card{border:1px solid #ddd;border-radius:8px;padding:1.5rem}h1{font-size:1.2rem}.amount{font-size:2rem;font-weight:700}
button{font-size:1rem;padding:.6rem 1.2rem;margin:.3rem .3rem 0 0;border-radius:6px;border:1px solid #888;cursor:pointer}
.pay{background:#0a7d32;color:#fff;border-color:#0a7d32}.muted{color:#666;font-size:.85rem}`;

/** The payment page a payer is redirected to (LigdiCash's "directpayment/invoice/<token>"). */
export function checkoutPage(invoice: Invoice, actionUrl: string): string {
  const done = invoice.status !== 'pending';
  return `<!doctype html><html lang="fr"><head><meta charset="utf-8"><title>LigdiCash (sandbox) — paiement</title>
<style>${style}</style></head><body><div class="card">
<h1>${escape(invoice.storeName)}</h1>
<p>${escape(invoice.description)}</p>
<p class="amount">${invoice.amount.toLocaleString('fr-FR')} XOF</p>
${
  done
    ? `<p id="status">Statut : <strong>${escape(invoice.status)}</strong> — ${escape(invoice.statusDescription)}</p>`
    : `<form method="post" action="${escape(actionUrl)}">
<label>Moyen de paiement <select name="method"><option>Orange Money</option><option>Moov Money</option><option>Carte VISA</option></select></label>
<p><label>Numéro <input name="phone" placeholder="226 70 00 00 00"></label></p>
<button class="pay" name="action" value="pay" type="submit">Payer</button>
<button name="action" value="cancel" type="submit">Annuler</button>
</form>`
}
<p class="muted">Sandbox Passerelle — scénario : ${escape(invoice.scenario)}</p>
</div></body></html>`;
}

export function resultPage(invoice: Invoice): string {
  return `<!doctype html><html lang="fr"><head><meta charset="utf-8"><title>LigdiCash (sandbox)</title><style>${style}</style></head>
<body><div class="card"><h1>${escape(invoice.storeName)}</h1><p id="status">${escape(invoice.statusDescription)} (${escape(invoice.status)})</p>
<p class="muted">Aucune URL de retour n'a été fournie.</p></div></body></html>`;
}
