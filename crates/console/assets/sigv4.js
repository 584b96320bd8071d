// SigV4 for the console's requests (EC2 Query POSTs, CloudWatch's AWS JSON, imds's own
// GETs), with WebCrypto (HMAC-SHA256, SHA-256).
// https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html

const enc = new TextEncoder();

function hex(buf) {
  return Array.from(new Uint8Array(buf), (b) => b.toString(16).padStart(2, "0")).join("");
}

async function sha256Hex(text) {
  return hex(await crypto.subtle.digest("SHA-256", enc.encode(text)));
}

async function hmac(key, text) {
  const k = await crypto.subtle.importKey(
    "raw", typeof key === "string" ? enc.encode(key) : key,
    { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  return crypto.subtle.sign("HMAC", k, enc.encode(text));
}

/** "20260102T030405Z" for a Date. */
export function amzDate(d) {
  return d.toISOString().replace(/[-:]/g, "").replace(/\.\d{3}/, "");
}

/**
 * Headers for a signed request to `path` (with the raw `query`, already encoded and sorted)
 * carrying `body` and `headers` (lower-case names; all of them signed), for `service`.
 * creds: {accessKeyId, secretAccessKey, sessionToken?}; host: as the browser will send it.
 */
export async function signRequest({ creds, region, service, host, method = "POST", path = "/",
  query = "", headers: extra = {}, body = "", now = new Date() }) {
  const date = amzDate(now);
  const day = date.slice(0, 8);
  const headers = { ...extra, host, "x-amz-date": date };
  if (creds.sessionToken) headers["x-amz-security-token"] = creds.sessionToken;
  const names = Object.keys(headers).sort();
  const canonicalHeaders = names.map((n) => `${n}:${headers[n].trim()}\n`).join("");
  const signedHeaders = names.join(";");
  const payloadHash = await sha256Hex(body);
  const creq = [method, path, query, canonicalHeaders, signedHeaders, payloadHash].join("\n");
  const scope = `${day}/${region}/${service}/aws4_request`;
  const sts = ["AWS4-HMAC-SHA256", date, scope, await sha256Hex(creq)].join("\n");
  let key = await hmac("AWS4" + creds.secretAccessKey, day);
  key = await hmac(key, region);
  key = await hmac(key, service);
  key = await hmac(key, "aws4_request");
  const signature = hex(await hmac(key, sts));
  const out = {
    ...extra,
    "X-Amz-Date": date,
    Authorization:
      `AWS4-HMAC-SHA256 Credential=${creds.accessKeyId}/${scope}, ` +
      `SignedHeaders=${signedHeaders}, Signature=${signature}`,
  };
  delete out.host;
  if (creds.sessionToken) out["X-Amz-Security-Token"] = creds.sessionToken;
  return out;
}

/**
 * Headers for a signed POST of `body` (application/x-www-form-urlencoded) to path `/`.
 */
export async function signQuery({ creds, region, service, host, body, now = new Date() }) {
  const contentType = "application/x-www-form-urlencoded; charset=utf-8";
  const out = await signRequest({ creds, region, service, host, body, now,
    headers: { "content-type": contentType } });
  delete out["content-type"];
  out["Content-Type"] = contentType;
  return out;
}
