namespace Bouncer.Tests;

/// <summary>
/// A fact about optimised code (allocation counts): Debug builds compile async state machines as
/// classes, so such a test runs only in Release, which is what ./test.sh builds. Slow end-to-end facts (the
/// pack-and-consume test, minutes of dotnet pack/build) use it too, so a Debug inner loop skips them.
/// </summary>
public sealed class ReleaseFactAttribute : FactAttribute
{
    public ReleaseFactAttribute()
    {
#if DEBUG
        Skip = "measures optimised code; run with -c Release (./test.sh does)";
#endif
    }
}
