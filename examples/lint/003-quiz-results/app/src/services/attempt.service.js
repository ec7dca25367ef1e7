const Result = require('../models/Result');
const { generateResultToken } = require('../models/Result');

// "Duplicate result check": a findOne on attemptId, which no index makes unique. Two submits
// of the same attempt both find nothing and both store a result.
async function submitAttempt(attempt, answers, score) {
  const existing = await Result.findOne({ attemptId: attempt._id }); // dupkey-expect: DK302
  if (existing) return existing;

  for (let tries = 0; tries < 3; tries++) {
    const resultToken = generateResultToken();
    if (!resultToken) throw new Error('resultToken generation failed');
    try {
      return await Result.create({ // dupkey-expect: DK301
        attemptId: attempt._id,
        quizId: attempt.quizId,
        score,
        answers,
        resultToken,
      });
    } catch (error) {
      if (error.code === 11000 && error.keyPattern && error.keyPattern.resultToken) {
        console.warn('resultToken collision, retrying', { attemptId: String(attempt._id), tries });
        continue;
      }
      throw error;
    }
  }
  throw new Error('could not store result');
}

module.exports = { submitAttempt };
