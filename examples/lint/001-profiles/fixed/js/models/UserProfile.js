import mongoose from 'mongoose';

const userProfileSchema = new mongoose.Schema(
  {
    // One profile per user, and every profile has its user.
    userId: { type: mongoose.Schema.Types.ObjectId, ref: 'User', required: true, unique: true },
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
