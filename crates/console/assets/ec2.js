// EC2 Query protocol client: form-encoded parameters, signed POST to "/", XML answers.

import { signQuery } from "./sigv4.js";

export const API_VERSION = "2016-11-15";

/** An error answer of EC2: its code (e.g. UnauthorizedOperation) and message. */
export class Ec2Error extends Error {
  constructor(code, message, status) {
    super(message);
    this.code = code;
    this.status = status;
  }
}

/** RFC 3986 encoding, as SigV4 and the Query protocol use it. */
function encode(s) {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => "%" + c.charCodeAt(0).toString(16).toUpperCase());
}

export function formBody(action, params) {
  const pairs = [["Action", action], ["Version", API_VERSION]];
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== "") pairs.push([k, String(v)]);
  }
  return pairs.map(([k, v]) => `${encode(k)}=${encode(v)}`).join("&");
}

/** Call `action` with flat Query parameters; resolves to the response's XML Document. */
export async function call(session, action, params = {}) {
  const body = formBody(action, params);
  const headers = await signQuery({
    creds: session,
    region: session.region,
    service: "ec2",
    host: location.host,
    body,
  });
  let resp;
  try {
    resp = await fetch("/", { method: "POST", headers, body, credentials: "omit", cache: "no-store" });
  } catch (e) {
    throw new Ec2Error("NetworkError", `The server could not be reached (${e.message}).`, 0);
  }
  const text = await resp.text();
  const doc = new DOMParser().parseFromString(text, "application/xml");
  if (!resp.ok) {
    const code = first(doc, "Code") || `HTTP${resp.status}`;
    const message = first(doc, "Message") || text.slice(0, 200) || resp.statusText;
    throw new Ec2Error(code, message, resp.status);
  }
  if (doc.getElementsByTagName("parsererror").length) {
    throw new Ec2Error("BadResponse", "The server's answer is not XML.", resp.status);
  }
  return doc;
}

/** Text of the first descendant element named `name`, or "". */
export function first(node, name) {
  const el = node.getElementsByTagName(name)[0];
  return el ? el.textContent : "";
}

/** Direct children of `node` named `name`. */
export function children(node, name) {
  return Array.from(node.children).filter((c) => c.localName === name);
}

/** Text of the direct child `name` of `node`, or "". */
export function child(node, name) {
  const c = children(node, name)[0];
  return c ? c.textContent : "";
}

/** Every instance of DescribeInstances, following NextToken. */
export async function describeInstances(session) {
  const out = [];
  let token = "";
  do {
    const doc = await call(session, "DescribeInstances", { MaxResults: 1000, NextToken: token });
    const root = doc.documentElement;
    for (const set of children(root, "reservationSet")) {
      for (const res of children(set, "item")) {
        for (const iset of children(res, "instancesSet")) {
          for (const inst of children(iset, "item")) out.push(parseInstance(inst));
        }
      }
    }
    token = child(root, "nextToken");
  } while (token);
  return out;
}

function parseInstance(el) {
  const tags = {};
  for (const ts of children(el, "tagSet")) {
    for (const t of children(ts, "item")) tags[child(t, "key")] = child(t, "value");
  }
  const state = children(el, "instanceState")[0];
  const mo = children(el, "metadataOptions")[0];
  const opt = (n) => (mo ? child(mo, n) : "");
  return {
    id: child(el, "instanceId"),
    name: tags.Name || "",
    tags,
    state: state ? child(state, "name") : "",
    type: child(el, "instanceType"),
    privateIp: child(el, "privateIpAddress"),
    imageId: child(el, "imageId"),
    metadata: {
      state: opt("state"),
      httpTokens: opt("httpTokens"),
      hopLimit: opt("httpPutResponseHopLimit"),
      httpEndpoint: opt("httpEndpoint"),
      ipv6: opt("httpProtocolIpv6"),
      tags: opt("instanceMetadataTags"),
    },
  };
}
