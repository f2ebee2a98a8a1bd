// Writes the suite's workspace: train.jsonl (clean chat examples, one unknown role "bot" = TL104,
// one assistant answer ending in spaces = TL603, fixable), validation.jsonl (clean) and
// tunelint.toml, and preview/chat.jsonl (a multi-turn example with a tool call; its own tokenizer
// through an override). Usage: node make-workspace.js DIR. Prints the interesting line numbers as JSON.
'use strict';
const fs = require('fs');
const path = require('path');

const QA = [
  ['How do I boil an egg so the yolk stays soft?', 'Lower it into boiling water for six and a half minutes, then cool it in ice water.'],
  ['Why is the sky blue?', 'Air molecules scatter short blue wavelengths of sunlight far more than red ones.'],
  ['What does a capacitor store?', 'Energy, in the electric field between two conductive plates.'],
  ['Name a prime number between 20 and 30.', '23 is one; 29 is the other.'],
  ['How many legs does a spider have?', 'Eight.'],
  ['What is the chemical symbol for gold?', 'Au, from the Latin aurum.'],
  ['Translate "thank you" into Japanese.', 'Arigatou gozaimasu.'],
  ['Who painted the ceiling of the Sistine Chapel?', 'Michelangelo, between 1508 and 1512.'],
  ['What keeps a bicycle upright while it moves?', 'Mostly steering: the rider and the fork geometry keep the wheels under the center of mass.'],
  ['Give me a synonym for "happy".', 'Cheerful.'],
  ['How far is the Moon from Earth?', 'About 384,400 kilometres on average.'],
  ['What language is spoken in Brazil?', 'Portuguese.'],
  ['Which planet has the most moons?', 'Saturn, with well over a hundred confirmed.'],
  ['How do I undo the last git commit but keep my changes?', 'Run `git reset --soft HEAD~1`.'],
  ['What is a haiku?', 'A short Japanese poem of three lines with five, seven and five syllables.'],
  ['Why do onions make people cry?', 'Cutting them releases a sulfur compound that irritates the eyes.'],
  ['What is the boiling point of water at sea level in Fahrenheit?', '212 degrees.'],
  ['Recommend a board game for four players.', 'Ticket to Ride: easy rules, about an hour per game.'],
  ['What does DNA stand for?', 'Deoxyribonucleic acid.'],
  ['How should I store fresh basil?', 'Stems in a glass of water on the counter, loosely covered, out of the fridge.'],
  ['What is the square root of 144?', '12.'],
  ['Who wrote Pride and Prejudice?', 'Jane Austen, published in 1813.'],
  ['Which ocean is the largest?', 'The Pacific.'],
  ['How do bees make honey?', 'They collect nectar, add enzymes, and fan it with their wings until most of the water evaporates.'],
  ['Explain recursion in one sentence.', 'A function solves a problem by calling itself on smaller pieces until it reaches a trivial case.'],
  ['What is the tallest mountain in Africa?', 'Kilimanjaro, 5,895 metres.'],
  ['What causes thunder?', 'Lightning heats the air so fast that it expands explosively, making a shock wave.'],
  ['Suggest a name for a grey kitten.', 'Pebble.'],
  ['How long should I steep green tea?', 'Two to three minutes, in water around 80 °C.'],
  ['What is the currency of Switzerland?', 'The Swiss franc.'],
  ['Which instrument has 88 keys?', 'A standard piano.'],
  ['What is photosynthesis?', 'Plants turning light, water and carbon dioxide into sugar and oxygen.'],
  ['Convert 5 kilometres to miles.', 'About 3.1 miles.'],
  ['What year did the Berlin Wall fall?', '1989.'],
  ['Why do cats purr?', 'To signal contentment, and sometimes to soothe themselves when hurt or stressed.'],
  ['What is the plural of "cactus"?', 'Cacti, though "cactuses" is also accepted.'],
  ['How can I remove a red wine stain?', 'Blot it, cover it with salt or baking soda, then wash in cold water.'],
  ['What is the speed of sound in air?', 'Roughly 343 metres per second at 20 °C.'],
  ['Which bird can fly backwards?', 'The hummingbird.'],
  ['What does HTTP status 404 mean?', 'The server could not find the requested resource.'],
  ['Is a tomato a fruit?', 'Botanically yes; in the kitchen it is treated as a vegetable.'],
  ['What is the freezing point of seawater?', 'About minus 1.9 °C, lower than fresh water because of the salt.'],
];
const VALID = [
  ['What is the largest desert on Earth?', 'Antarctica, if cold deserts count; otherwise the Sahara.'],
  ['How many strings does a violin have?', 'Four, tuned G, D, A and E.'],
  ['What gas do humans exhale most of?', 'Nitrogen, which we breathe in and out unchanged; of the gases we add, carbon dioxide.'],
  ['Who discovered penicillin?', 'Alexander Fleming, in 1928.'],
];

const SYSTEM = 'You are a helpful, concise assistant.';
const PREVIEW = [
  {
    messages: [
      { role: 'system', content: 'You are a helpful assistant that answers questions about geography.' },
      { role: 'user', content: 'What is the weather in Paris?\nSay "sunny" if so.' },
      { role: 'assistant', content: '', tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city": "Paris"}' } }] },
      { role: 'tool', tool_call_id: 'call_1', content: '{"weather": "sunny", "celsius": 21}' },
      { role: 'assistant', content: 'It is sunny in Paris: 21 degrees.' },
      { role: 'user', content: 'And the capital of France?' },
      { role: 'assistant', content: 'The capital of France is Paris.' },
    ],
  },
  { messages: [{ role: 'user', content: 'Hello there!' }, { role: 'assistant', content: 'How can I help you today?' }] },
];
const chat = (q, a, role = 'assistant') => JSON.stringify({
  messages: [{ role: 'system', content: SYSTEM }, { role: 'user', content: q }, { role, content: a }],
});

function main(dir) {
  fs.mkdirSync(dir, { recursive: true });
  const train = QA.map(([q, a]) => chat(q, a));
  // 1-based line numbers of the two faulty lines
  const botLine = 6;
  const spaceLine = 12;
  train[botLine - 1] = chat(QA[botLine - 1][0], QA[botLine - 1][1], 'bot');
  train[spaceLine - 1] = chat(QA[spaceLine - 1][0], QA[spaceLine - 1][1] + '   ');
  fs.writeFileSync(path.join(dir, 'train.jsonl'), train.join('\n') + '\n');
  fs.writeFileSync(path.join(dir, 'validation.jsonl'), VALID.map(([q, a]) => chat(q, a)).join('\n') + '\n');
  // the Preview step: a multi-turn example with a tool call, counted with a tiny Hugging Face
  // tokenizer (run.sh builds it in preview-tokenizer/ with tests/hf_fixtures.py)
  fs.mkdirSync(path.join(dir, 'preview'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'preview', 'chat.jsonl'), PREVIEW.map((o) => JSON.stringify(o)).join('\n') + '\n');
  fs.writeFileSync(path.join(dir, 'tunelint.toml'), [
    '# written by editor-client/e2e/make-workspace.js',
    'profile = "hf"',
    '',
    '[train]',
    '# the extension does not forward tunelint.train.maxLength; the project config does',
    'max_length = 128',
    '',
    '[[overrides]]',
    'files = ["preview/*.jsonl"]',
    `tokenizer = ${JSON.stringify('hf:' + path.join(dir, 'preview-tokenizer'))}`,
    '',
  ].join('\n'));
  return {
    train: path.join(dir, 'train.jsonl'), trainLines: train.length, botLine, spaceLine, validationLines: VALID.length,
    preview: path.join(dir, 'preview', 'chat.jsonl'), previewTokenizer: path.join(dir, 'preview-tokenizer'),
  };
}

if (require.main === module) {
  const dir = process.argv[2];
  if (!dir) {
    console.error('usage: node make-workspace.js DIR');
    process.exit(2);
  }
  console.log(JSON.stringify(main(path.resolve(dir))));
}
module.exports = { main };
