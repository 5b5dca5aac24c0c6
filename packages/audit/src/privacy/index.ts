export {
  createPseudonymizer,
  MIN_PSEUDONYM_KEY_BYTES,
  PSEUDONYM_PREFIX,
  type PseudonymizeOptions,
  type Pseudonymizer,
} from './pseudonymize.js';
