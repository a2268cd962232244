// Random container names in Docker's style (adjective_scientist).
import crypto from 'node:crypto';

const LEFT = ['admiring', 'adoring', 'agitated', 'amazing', 'angry', 'awesome', 'blissful', 'bold', 'brave', 'charming', 'clever', 'cool',
  'compassionate', 'competent', 'confident', 'crazy', 'dazzling', 'determined', 'eager', 'ecstatic', 'elastic', 'elated', 'elegant',
  'epic', 'fervent', 'festive', 'focused', 'friendly', 'frosty', 'gallant', 'gifted', 'goofy', 'gracious', 'happy', 'hardcore',
  'heuristic', 'hopeful', 'hungry', 'infallible', 'inspiring', 'jolly', 'jovial', 'keen', 'kind', 'laughing', 'loving', 'lucid',
  'magical', 'modest', 'musing', 'mystifying', 'naughty', 'nervous', 'nice', 'nifty', 'nostalgic', 'objective', 'optimistic',
  'peaceful', 'pedantic', 'pensive', 'practical', 'priceless', 'quirky', 'quizzical', 'relaxed', 'reverent', 'romantic', 'sad',
  'serene', 'sharp', 'silly', 'sleepy', 'stoic', 'strange', 'suspicious', 'sweet', 'tender', 'thirsty', 'trusting', 'upbeat',
  'vibrant', 'vigilant', 'wizardly', 'wonderful', 'xenodochial', 'youthful', 'zealous', 'zen'];
const RIGHT = ['agnesi', 'albattani', 'allen', 'archimedes', 'babbage', 'banach', 'bardeen', 'bartik', 'bell', 'bhabha', 'black',
  'blackwell', 'bohr', 'booth', 'borg', 'bose', 'brahmagupta', 'brown', 'cannon', 'carson', 'cerf', 'chandrasekhar', 'clarke',
  'curie', 'darwin', 'davinci', 'dijkstra', 'driscoll', 'einstein', 'elion', 'engelbart', 'euclid', 'euler', 'faraday', 'fermat',
  'fermi', 'feynman', 'franklin', 'galileo', 'gauss', 'goldberg', 'goodall', 'hamilton', 'hawking', 'heisenberg', 'hertz', 'hopper',
  'hypatia', 'jang', 'johnson', 'kepler', 'khorana', 'knuth', 'lalande', 'lamarr', 'leakey', 'lovelace', 'lumiere', 'mayer',
  'mccarthy', 'meitner', 'mendel', 'merkle', 'mirzakhani', 'montalcini', 'morse', 'newton', 'nobel', 'noether', 'pascal', 'pasteur',
  'payne', 'perlman', 'pike', 'poincare', 'ptolemy', 'raman', 'ritchie', 'rosalind', 'sammet', 'shannon', 'shockley', 'sinoussi',
  'stallman', 'swartz', 'tesla', 'thompson', 'torvalds', 'turing', 'varahamihira', 'visvesvaraya', 'wilson', 'wozniak', 'wright',
  'yalow', 'yonath'];

export function randomName(retry = 0): string {
  const pick = <T>(a: T[]) => a[crypto.randomInt(a.length)]!;
  const n = `${pick(LEFT)}_${pick(RIGHT)}`;
  return retry > 0 ? `${n}${crypto.randomInt(10)}` : n;
}

export const newId = (): string => crypto.randomBytes(32).toString('hex');
