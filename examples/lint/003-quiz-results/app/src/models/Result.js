const mongoose = require('mongoose');

const generateResultToken = () => `${Date.now()}${Math.floor(Math.random() * 100)}`;

const resultSchema = new mongoose.Schema(
  {
    attemptId: { type: mongoose.Schema.Types.ObjectId, ref: 'Attempt', required: true },
    quizId: { type: String, required: true },
    score: { type: Number, required: true },
    answers: [{ questionId: String, choice: String }],
    // "unique: true" was moved to the index below; the default stays as a fallback.
    resultToken: {
      type: String,
      required: true,
      default: generateResultToken, // dupkey-expect: DK306
    },
  },
  { timestamps: true, collection: 'divorce_conflict_results' },
);

// Meant to allow any number of nulls and keep other tokens unique. $exists: true matches
// null as well, so a second result with a null token still fails on resultToken_1.
resultSchema.index(
  { resultToken: 1 },
  {
    unique: true,
    partialFilterExpression: {
      resultToken: { $exists: true }, // dupkey-expect: DK309
    },
  },
);

resultSchema.pre('validate', function ensureTokenBeforeValidate(next) {
  if (!this.resultToken) this.resultToken = generateResultToken();
  next();
});

resultSchema.pre('save', function ensureTokenBeforeSave(next) {
  if (!this.resultToken) this.resultToken = generateResultToken();
  next();
});

module.exports = mongoose.model('Result', resultSchema);
module.exports.generateResultToken = generateResultToken;
