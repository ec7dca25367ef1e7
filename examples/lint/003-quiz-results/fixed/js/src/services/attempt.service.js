const Result = require('../models/Result');

// One result per attempt, enforced by the unique attemptId index: create, and when another
// submit of the same attempt won the race, return its result.
async function submitAttempt(attempt, answers, score) {
  try {
    return await Result.create({ attemptId: attempt._id, quizId: attempt.quizId, score, answers });
  } catch (error) {
    if (error.code === 11000 && error.keyPattern && error.keyPattern.attemptId) {
      return Result.findOne({ attemptId: attempt._id });
    }
    throw error;
  }
}

module.exports = { submitAttempt };
