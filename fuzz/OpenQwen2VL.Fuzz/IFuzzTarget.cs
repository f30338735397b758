namespace OpenQwen2VL.Fuzz;

/// <summary>
/// One parser of untrusted input under fuzzing. <see cref="Run"/> feeds it one input and returns normally when the
/// parser either accepted it or refused it the way the program reports bad user input (<see cref="ExpectedRefusal"/>);
/// anything else escaping it (an unexpected exception type, a broken invariant, a stack overflow, a hang) is a finding.
/// </summary>
public interface IFuzzTarget
{
    /// <summary>The name on the command line (`oqvl-fuzz run NAME`).</summary>
    string Name { get; }

    /// <summary>What the target parses, for `oqvl-fuzz list`.</summary>
    string Description { get; }

    void Run(ReadOnlySpan<byte> input, FuzzScratch scratch);

    /// <summary>Small valid inputs to start from, built by the project's own writers and from the reference fixtures.</summary>
    IEnumerable<(string Name, byte[] Data)> Seeds(FuzzEnvironment env);
}
