/** The fake LLM says it is a fake, speaks the OpenAI wire format, and injects faults on demand. */
import OpenAI from 'openai';
import {
  FAKE_LLM_HEADER,
  FAKE_LLM_MARKER,
  FAKE_LLM_MODEL,
  type FakeLlm,
  startFakeLlmServer,
} from '../../scripts/fake-llm/server';
import { http, postJson } from './support';

let fake: FakeLlm;
beforeAll(async () => {
  fake = await startFakeLlmServer({}, { random: () => 0.5 });
});
afterAll(() => fake.close());
beforeEach(() => {
  fake.configure({ rate429: 0, rate500: 0, rateTimeout: 0, failNext: null, latencyMs: 0 });
  fake.resetStats();
});

test('is named a fake: model id, reply marker and a response header', async () => {
  const models = await http(`${fake.baseUrl}/models`);
  expect(models.headers[FAKE_LLM_HEADER]).toBe('true');
  expect(models.json<{ data: Array<{ id: string }> }>().data[0]?.id).toBe(FAKE_LLM_MODEL);
  const client = new OpenAI({ apiKey: 'k', baseURL: fake.baseUrl, maxRetries: 0 });
  const out = await client.chat.completions.create({
    model: FAKE_LLM_MODEL,
    messages: [{ role: 'user', content: 'ping' }],
  });
  expect(out.choices[0]?.message.content).toMatch(new RegExp(`^\\${FAKE_LLM_MARKER}`));
});

test('streams OpenAI chunks that add up to the same reply', async () => {
  const client = new OpenAI({ apiKey: 'k', baseURL: fake.baseUrl, maxRetries: 0 });
  const whole = await client.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'same' }] });
  const stream = await client.chat.completions.create({
    model: 'm',
    messages: [{ role: 'user', content: 'same' }],
    stream: true,
  });
  let text = '';
  for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? '';
  expect(text).toBe(whole.choices[0]?.message.content);
  expect(fake.stats()).toMatchObject({ calls: 2, streams: 1, ok: 2 });
});

test('tokenIntervalMs paces a stream like a generating model: the first token early, the last one later', async () => {
  fake.configure({ tokenIntervalMs: 40 });
  try {
    const client = new OpenAI({ apiKey: 'k', baseURL: fake.baseUrl, maxRetries: 0 });
    const started = performance.now();
    const stream = await client.chat.completions.create({
      model: 'm',
      messages: [{ role: 'user', content: 'pace me' }],
      stream: true,
    });
    const arrivals: number[] = [];
    for await (const chunk of stream) {
      if (chunk.choices[0]?.delta?.content) arrivals.push(performance.now() - started);
    }
    expect(arrivals.length).toBeGreaterThan(3);
    // n tokens: the last comes (n - 1) intervals after the first.
    expect((arrivals.at(-1) as number) - (arrivals[0] as number)).toBeGreaterThanOrEqual(
      (arrivals.length - 1) * 40 - 20,
    );
  } finally {
    fake.configure({ tokenIntervalMs: 0 });
  }
});

test('latency and faults are set at run time through the control endpoint, and every call is counted', async () => {
  const set = await postJson(`${fake.url}/__fake/config`, { latencyMs: 120, failNext: { kind: 'throttle', count: 1 } });
  expect(set.status).toBe(200);
  const body = { model: 'm', messages: [{ role: 'user', content: 'x' }] };
  const throttled = await postJson(`${fake.baseUrl}/chat/completions`, body);
  expect([throttled.status, throttled.headers['retry-after']]).toEqual([429, '1']);
  const started = Date.now();
  const ok = await postJson(`${fake.baseUrl}/chat/completions`, body);
  expect(ok.status).toBe(200);
  expect(Date.now() - started).toBeGreaterThanOrEqual(110);
  await postJson(`${fake.url}/__fake/config`, { rate500: 1 });
  expect((await postJson(`${fake.baseUrl}/chat/completions`, body)).status).toBe(500);
  const state = (await http(`${fake.url}/__fake/state`)).json<{ stats: Record<string, number> }>();
  expect(state.stats).toMatchObject({ calls: 3, throttled: 1, ok: 1, errors: 1 });
  expect((await postJson(`${fake.url}/__fake/config`, { rate429: 2 })).status).toBe(400);
});
