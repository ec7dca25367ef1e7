import mongoose from 'mongoose';

const userProfileSchema = new mongoose.Schema(
  {
    // Not required: a profile created before its user existed was stored with userId: null,
    // and every later one without a userId then fails on userId_1.
    userId: {
      type: mongoose.Schema.Types.ObjectId,
      ref: 'User',
      unique: true, // dupkey-expect: DK310
    },
    email: { type: String, index: true },
    name: String,
    monthlyIncome: Number,
    riskTolerance: { type: String, enum: ['low', 'medium', 'high'], default: 'medium' },
    goals: [{ title: String, target: Number, deadline: Date }],
    onboardingCompleted: { type: Boolean, default: false },
  },
  { timestamps: true },
);

export default mongoose.models.UserProfile || mongoose.model('UserProfile', userProfileSchema);
