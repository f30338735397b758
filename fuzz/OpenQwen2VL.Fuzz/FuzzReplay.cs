namespace OpenQwen2VL.Fuzz;

/// <summary>Runs a target on saved inputs outside AFL: triage of a crash, and the regression test over every kept input.</summary>
public static class FuzzReplay
{
    /// <summary>The inputs under <paramref name="paths"/> (files, or folders read recursively), in a stable order.</summary>
    public static IEnumerable<string> Inputs(IEnumerable<string> paths) =>
        paths.SelectMany<string, string>(p => Directory.Exists(p)
            ? Directory.EnumerateFiles(p, "*", SearchOption.AllDirectories).Where(f => !Path.GetFileName(f).StartsWith('.') && Path.GetFileName(f) != "README.txt").Order(StringComparer.Ordinal)
            : [p]);

    /// <summary>Runs one input; null when the target handled it, else the finding (exception type and message).</summary>
    public static string? RunOne(IFuzzTarget target, byte[] input, FuzzScratch scratch)
    {
        ExpectedRefusal.LastRefusal = null;
        try
        {
            target.Run(input, scratch);
            return null;
        }
        catch (Exception e)
        {
            return $"{e.GetType().Name}: {e.Message.Split('\n')[0]}";
        }
    }
}
