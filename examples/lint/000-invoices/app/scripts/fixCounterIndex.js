// The migration from the write-up: drop the counters collection (and with it the stale
// id_1_reference_value_1 index of the old counter plugin), then build the "sparse" index.
const mongoose = require('mongoose');

async function main() {
  await mongoose.connect(process.env.MONGODB_URI || 'mongodb://localhost:27017/test');
  const db = mongoose.connection.db;
  const exists = await db.listCollections({ name: 'counters' }).hasNext();
  if (exists) await db.dropCollection('counters');
  await db.collection('counters').createIndex(
    { type: 1, year: 1 },
    {
      unique: true,
      sparse: true, // dupkey-expect: DK308
    },
  );
  console.log('counters index rebuilt');
  await mongoose.disconnect();
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
