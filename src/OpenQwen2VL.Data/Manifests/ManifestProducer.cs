using System.Reflection;

namespace OpenQwen2VL.Data.Manifests;

/// <summary>Who wrote a stage folder: the command line and the program version, recorded in every manifest.</summary>
public sealed record ManifestProducer(string Command, string Version)
{
    /// <summary>The running program's producer; the CLI sets it from its arguments at start-up, libraries see "library call".</summary>
    public static ManifestProducer Current { get; set; } = new("library call", ProgramVersion);

    /// <summary>The informational version of this library (the build's version and, where the build knows it, its commit).</summary>
    public static string ProgramVersion =>
        typeof(ManifestProducer).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "unknown";
}
