import { NextResponse } from 'next/server';
import { getServerSession } from 'next-auth';
import connectDB from '@/lib/mongodb';
import User from '@/models/User';
import UserProfile from '@/models/UserProfile';

async function currentUser() {
  const session = await getServerSession();
  if (!session?.user?.email) return null;
  await connectDB();
  return User.findOne({ email: session.user.email });
}

// Get-or-create keyed by the unique field, in one atomic upsert: however many tabs race,
// one profile is created and all of them get it.
export async function GET() {
  const user = await currentUser();
  if (!user) return NextResponse.json({ error: 'Unauthorized' }, { status: 401 });
  const profile = await UserProfile.findOneAndUpdate(
    { userId: user._id },
    { $setOnInsert: { userId: user._id, email: user.email, name: user.name, onboardingCompleted: false } },
    { upsert: true, new: true },
  );
  return NextResponse.json(profile);
}

export async function PUT(request) {
  const user = await currentUser();
  if (!user) return NextResponse.json({ error: 'Unauthorized' }, { status: 401 });
  const { name, monthlyIncome, riskTolerance, goals } = await request.json();
  const set = {};
  if (name) set.name = name;
  if (monthlyIncome !== undefined) set.monthlyIncome = monthlyIncome;
  if (riskTolerance) set.riskTolerance = riskTolerance;
  if (goals) set.goals = goals;
  const profile = await UserProfile.findOneAndUpdate(
    { userId: user._id },
    { $set: set, $setOnInsert: { userId: user._id, email: user.email } },
    { upsert: true, new: true, runValidators: true },
  );
  return NextResponse.json(profile);
}
