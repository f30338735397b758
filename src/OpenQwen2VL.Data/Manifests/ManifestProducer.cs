using System.Reflection;

namespace OpenQwen2VL.Data.Manifests;

/// <summary>Who wrote a stage folder: the command line and the program version, recorded in every manifest.</summary>
public sealed record ManifestProducer(string Command, string Version)
{
    static readonly AsyncLocal<ManifestProducer?> s_current = new();

    /// <summary>
    /// The running command's producer; the CLI sets it from its arguments, libraries see "library call". Async-local, so
    /// commands run side by side in one process (tests, a server) each record their own command line.
    /// </summary>
    public static ManifestProducer Current
    {
        get => s_current.Value ?? new("library call", ProgramVersion);
        set => s_current.Value = value;
    }

    /// <summary>The informational version of this library (the build's version and, where the build knows it, its commit).</summary>
    public static string ProgramVersion =>
        typeof(ManifestProducer).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "unknown";
}
