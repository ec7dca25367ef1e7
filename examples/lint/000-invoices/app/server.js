const express = require('express');
const mongoose = require('mongoose');
const invoices = require('./routes/invoices');

const app = express();
app.use(express.json());
app.use('/api', invoices);

mongoose.connect(process.env.MONGODB_URI || 'mongodb://localhost:27017/test').then(() => {
  app.listen(process.env.PORT || 3000);
});
