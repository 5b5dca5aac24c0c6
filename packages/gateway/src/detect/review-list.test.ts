import { describe, expect, it } from 'vitest';
import { createReviewList } from './review-list.js';

describe('createReviewList', () => {
  it('keeps the newest items up to its capacity, newest first', () => {
    const list = createReviewList<number>(3);
    expect(list.list()).toEqual([]);
    list.push(1);
    list.push(2);
    expect(list.list()).toEqual([2, 1]);
    for (let i = 3; i <= 7; i++) list.push(i);
    expect(list.list()).toEqual([7, 6, 5]);
    expect(list.size).toBe(3);
    expect(() => createReviewList(0)).toThrow(RangeError);
  });
});
