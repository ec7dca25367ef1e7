import { NextResponse } from 'next/server';
import { getServerSession } from 'next-auth';
import connectDB from '@/lib/mongodb';
import UserProfile from '@/models/UserProfile';

// GET creates the profile when the lookup by email finds none. The unique index is on
// userId: two tabs opening the profile page at once both find nothing and both create.
export async function GET() {
  const session = await getServerSession();
  if (!session?.user?.email) {
    return NextResponse.json({ error: 'Unauthorized' }, { status: 401 });
  }
  await connectDB();

  let userProfile = await UserProfile.findOne({ email: session.user.email }); // dupkey-expect: DK302
  if (!userProfile) {
    userProfile = await UserProfile.create({ // dupkey-expect: DK301
      userId: session.user.id,
      email: session.user.email,
      name: session.user.name,
      onboardingCompleted: false,
    });
  }
  return NextResponse.json(userProfile);
}

export async function PUT(request) {
  const session = await getServerSession();
  if (!session?.user?.email) {
    return NextResponse.json({ error: 'Unauthorized' }, { status: 401 });
  }
  await connectDB();
  const { name, monthlyIncome, riskTolerance, goals } = await request.json();

  try {
    const profile = await UserProfile.findOne({ email: session.user.email });
    if (profile) {
      profile.name = name || session.user.name || profile.name;
      if (monthlyIncome !== undefined) profile.monthlyIncome = monthlyIncome;
      if (riskTolerance) profile.riskTolerance = riskTolerance;
      if (goals) profile.goals = goals;
      await profile.save();
      return NextResponse.json(profile);
    }
    return NextResponse.json({ error: 'Profile not found' }, { status: 404 });
  } catch (error) {
    if (error.code === 11000) {
      return NextResponse.json({ error: 'Profile already exists' }, { status: 409 });
    }
    return NextResponse.json({ error: error.message }, { status: 500 });
  }
}
