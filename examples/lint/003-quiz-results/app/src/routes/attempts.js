const express = require('express');
const { submitAttempt } = require('../services/attempt.service');

const router = express.Router();

router.post('/attempts/:id/submit', async (req, res) => {
  try {
    const attempt = { _id: req.params.id, quizId: req.body.quizId };
    const result = await submitAttempt(attempt, req.body.answers, req.body.score);
    res.json({ resultToken: result.resultToken, score: result.score });
  } catch (err) {
    console.error('submit failed', err);
    res.status(500).json({ error: 'could not save your result' });
  }
});

module.exports = router;
