const crypto = require('crypto');
const mongoose = require('mongoose');

const resultSchema = new mongoose.Schema(
  {
    attemptId: { type: mongoose.Schema.Types.ObjectId, ref: 'Attempt', required: true, unique: true },
    quizId: { type: String, required: true },
    score: { type: Number, required: true },
    answers: [{ questionId: String, choice: String }],
    // 122 random bits: never null, never a realistic collision.
    resultToken: { type: String, required: true, default: () => crypto.randomUUID() },
  },
  { timestamps: true, collection: 'divorce_conflict_results' },
);

// Only string tokens are indexed: a legacy result with a null token stays out of the index
// instead of blocking the next one.
resultSchema.index(
  { resultToken: 1 },
  { unique: true, partialFilterExpression: { resultToken: { $type: 'string' } } },
);

module.exports = mongoose.model('Result', resultSchema);
