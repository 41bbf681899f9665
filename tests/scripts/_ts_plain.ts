// Required (or not) by reenter.py.
export const plain = true;
