// Drives `oqvl serve` with the official openai client (tests/OpenQwen2VL.Cli.Tests run it): one plain and one streamed
// greedy answer for an image and a prompt, the models list, and two refusals as the client reports them.
// Usage: node openai-client.mjs BASE_URL API_KEY IMAGE PROMPT MAX_TOKENS; prints one JSON object.
import OpenAI from 'openai';
import { readFileSync } from 'node:fs';

const [baseURL, apiKey, image, prompt, maxTokens] = process.argv.slice(2);
const client = new OpenAI({ baseURL, apiKey, maxRetries: 0 });
const url = `data:image/jpeg;base64,${readFileSync(image).toString('base64')}`;
const request = {
  model: 'any',
  messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url } }, { type: 'text', text: prompt }] }],
  max_tokens: Number(maxTokens),
  temperature: 0,
};

const plain = await client.chat.completions.create(request);
let streamed = '';
let streamFinish = null;
for await (const chunk of await client.chat.completions.create({ ...request, stream: true })) {
  const choice = chunk.choices[0];
  if (choice?.delta?.content) streamed += choice.delta.content;
  if (choice?.finish_reason) streamFinish = choice.finish_reason;
}
const models = [];
for await (const model of client.models.list()) models.push(model.id);

async function refusal(call) {
  try {
    await call();
    return null;
  } catch (e) {
    return { status: e.status ?? null, code: e.code ?? null, type: e.type ?? null, kind: e.constructor.name, message: e.message };
  }
}
const unknownModel = await refusal(() => client.chat.completions.create({ ...request, model: 'gpt-9' }));
const wrongKey = await refusal(() => new OpenAI({ baseURL, apiKey: `${apiKey}-wrong`, maxRetries: 0 }).chat.completions.create(request));

console.log(JSON.stringify({
  plain: plain.choices[0].message.content,
  plainFinish: plain.choices[0].finish_reason,
  usage: plain.usage,
  streamed,
  streamFinish,
  models,
  unknownModel,
  wrongKey,
}));
