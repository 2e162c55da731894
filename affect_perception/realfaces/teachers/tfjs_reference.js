// Runs a teacher in the original TensorFlow.js (cpu backend) for the parity test.
// Usage: NODE_PATH=<node_modules with @tensorflow/tfjs> node tfjs_reference.js job.json
// job: {kind: "graph" | "face_api", model: path, face_api: path of face-api.node-wasm.js,
//       input: raw float32 file, shape: [...], outputs: [node names] (graph), out: path}
// Writes {"outputs": [[...flat values...], ...]} to job.out.
const fs = require('fs');
const path = require('path');
const tf = require('@tensorflow/tfjs');

function weightData(manifest, folder) {
  const buffers = manifest.flatMap((g) => g.paths.map((p) => fs.readFileSync(path.join(folder, p))));
  const all = Buffer.concat(buffers);
  return all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength);
}

async function main() {
  const job = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
  await tf.setBackend('cpu');
  await tf.ready();
  const raw = fs.readFileSync(job.input);
  const x = tf.tensor(new Float32Array(raw.buffer, raw.byteOffset, raw.byteLength / 4), job.shape);
  let outputs;
  if (job.kind === 'graph') {
    const spec = JSON.parse(fs.readFileSync(job.model, 'utf8'));
    const artifacts = {
      modelTopology: spec.modelTopology, format: spec.format, generatedBy: spec.generatedBy,
      convertedBy: spec.convertedBy, signature: spec.signature,
      userDefinedMetadata: spec.userDefinedMetadata,
      weightSpecs: spec.weightsManifest.flatMap((g) => g.weights),
      weightData: weightData(spec.weightsManifest, path.dirname(job.model)),
    };
    const model = await tf.loadGraphModel(tf.io.fromMemory(artifacts));
    const result = model.execute(x, job.outputs);
    outputs = (Array.isArray(result) ? result : [result]);
  } else if (job.kind === 'face_api') {
    const faceapi = require(job.face_api);
    const manifest = JSON.parse(fs.readFileSync(job.model, 'utf8'));
    const weights = tf.io.decodeWeights(weightData(manifest, path.dirname(job.model)),
      manifest.flatMap((g) => g.weights));
    const net = new faceapi.FaceExpressionNet();
    net.loadFromWeightMap(weights);
    const input = await faceapi.toNetInput(tf.unstack(x));
    outputs = [net.forwardInput(input)];
  } else {
    throw new Error(`unknown kind ${job.kind}`);
  }
  const values = await Promise.all(outputs.map(async (t) => Array.from(await t.data())));
  fs.writeFileSync(job.out, JSON.stringify({ outputs: values, backend: tf.getBackend(), version: tf.version.tfjs }));
}

main().catch((err) => { console.error(err.message || err); process.exit(1); });
