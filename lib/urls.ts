/** Our public URLs that operators and payers are given (PUBLIC_BASE_URL). */

/** Where an operator posts its callbacks (its registered URL may add a secret token: TMoney). */
export function callbackUrlFor(publicBaseUrl: string, operator: string): string {
  return new URL(`/v1/callbacks/${operator}`, publicBaseUrl).toString();
}

/** Our page that posts an operator's order form for the payer (TMoney online), or asks for their number. */
export function checkoutUrlFor(publicBaseUrl: string, paymentId: string): string {
  return new URL(`/checkout/${paymentId}`, publicBaseUrl).toString();
}
