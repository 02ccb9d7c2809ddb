// Node Perspective clients against our server, driven by tests/test_perspective_client.py: reads
// {"base", "key", "texts": {...}} on stdin, prints one JSON object of what each client got back.
'use strict';
const path = require('path');

const GOOGLE = 'https://commentanalyzer.googleapis.com';

function failure(err) {
  // googleapis (gaxios) and axios both keep the HTTP answer on err.response
  const response = err.response || {};
  return {message: err.message, status: response.status, data: response.data};
}

async function googleSample(base, key, texts) {
  // Perspective's documented node sample: googleapis' discoverAPI, then comments.analyze({key, resource}) with a
  // callback; the one change is DISCOVERY_URL.
  const {google} = require('googleapis');
  const DISCOVERY_URL = base + '/$discovery/rest?version=v1alpha1';
  const client = await google.discoverAPI(DISCOVERY_URL);
  const call = (method, resource) => new Promise(resolve => {
    client.comments[method]({key, resource}, (err, response) => {
      resolve(err ? {error: failure(err)} : {data: response.data});
    });
  });
  return {
    analyze: await call('analyze', {comment: {text: texts.nasty}, requestedAttributes: {TOXICITY: {}}}),
    suggest: await call('suggestscore', {comment: {text: texts.civil}, clientToken: 'node-1',
                                         attributeScores: {TOXICITY: {summaryScore: {value: 0}}}}),
    unsupported: await call('analyze', {comment: {text: texts.civil}, requestedAttributes: {FLIRTATION: {}}}),
  };
}

async function loriaClient(base, key, texts) {
  // npm perspective-api-client hard-codes Google's URL in a constant; a migrating site redirects it in axios,
  // the HTTP client the library itself requires (found from the library's folder, so it is the same instance).
  const Perspective = require('perspective-api-client');
  const axios = require(require.resolve('axios', {paths: [path.dirname(require.resolve('perspective-api-client'))]}));
  axios.interceptors.request.use(config => Object.assign({}, config, {url: config.url.replace(GOOGLE, base)}));
  const perspective = new Perspective({apiKey: key});
  const run = promise => promise.then(data => ({data}), err => ({error: failure(err)}));
  return {
    analyze: await run(perspective.analyze(texts.nasty, {attributes: ['toxicity', 'spam']})),
    html: await run(perspective.analyze(texts.html)),
    spans: await run(perspective.analyze({comment: {text: texts.emoji}, spanAnnotations: true},
                                         {attributes: ['TOXICITY']})),
    unsupported: await run(perspective.analyze(texts.civil, {attributes: ['flirtation']})),
  };
}

async function main() {
  let raw = '';
  for await (const chunk of process.stdin) raw += chunk;
  const {base, key, texts} = JSON.parse(raw);
  const out = {googleapis: await googleSample(base, key, texts),
               'perspective-api-client': await loriaClient(base, key, texts)};
  process.stdout.write(JSON.stringify(out));
}

main().catch(err => {
  process.stderr.write(String(err && err.stack || err));
  process.exit(1);
});
