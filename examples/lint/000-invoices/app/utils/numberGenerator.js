const Counter = require('../models/Counter');

// April to March: 2025-26.
function financialYear(date = new Date()) {
  const y = date.getMonth() >= 3 ? date.getFullYear() : date.getFullYear() - 1;
  return `${y}-${String((y + 1) % 100).padStart(2, '0')}`;
}

// Retries with backoff on E11000, as the write-up describes. The $inc itself is atomic; the
// collisions came from the index, not from this function.
async function getNextSequence(type, retries = 3) {
  const year = financialYear();
  for (let attempt = 0; attempt < retries; attempt++) {
    try {
      const counter = await Counter.findOneAndUpdate(
        { type, year },
        { $inc: { seq: 1 } },
        { new: true, upsert: true },
      );
      return counter.seq;
    } catch (error) {
      if (error.code === 11000 && attempt < retries - 1) {
        await new Promise((resolve) => setTimeout(resolve, 100 * (attempt + 1)));
        continue;
      }
      throw error;
    }
  }
  throw new Error(`could not number ${type}`);
}

async function generateNumber(prefix, type) {
  const seq = await getNextSequence(type);
  return `${prefix}/${financialYear()}/${String(seq).padStart(6, '0')}`;
}

module.exports = { financialYear, getNextSequence, generateNumber };
