using System.Reflection.Metadata;
using System.Reflection.Metadata.Ecma335;
using System.Reflection.PortableExecutable;

namespace OpenQwen2VL.Tests.Analyzers.TorchSharpIl;

/// <summary>
/// The TorchSharp methods that, somewhere down their own call chain inside TorchSharp, create a Scalar they never
/// dispose (e.g. Tensor.add(Tensor) passes an implicit alpha = 1, Tensor.square() calls pow(2), `t * 2.0` converts
/// 2.0). Such a temporary Scalar owns a native c10::Scalar and has a finaliser; once its Handle is read the JIT may
/// treat it as dead and a GC on another thread can free it while libtorch still reads it ("Unknown scalar type";
/// dotnet/TorchSharp PR #1434 and #1496). Read from TorchSharp.dll itself: the analyzer's copy of this set
/// (TorchSharpTemporaryScalarMembers.txt) is checked against it, so a TorchSharp upgrade that adds or fixes such
/// members fails the suite until the copy is regenerated.
/// </summary>
public sealed class TorchSharpTemporaryScalars
{
    TorchSharpTemporaryScalars(HashSet<string> methods, IReadOnlyCollection<string> allMethods)
    {
        Methods = methods;
        AllMethods = allMethods;
    }

    /// <summary>IL keys (<see cref="MetadataMethodNames"/>) of the methods that create a Scalar they never dispose.</summary>
    public IReadOnlyCollection<string> Methods { get; }

    /// <summary>IL keys of every method with a body that TorchSharp.dll defines.</summary>
    public IReadOnlyCollection<string> AllMethods { get; }

    public static bool IsImplicitScalar(string methodKey) => methodKey.StartsWith("TorchSharp.Scalar::op_Implicit(", StringComparison.Ordinal);

    static bool CreatesScalar(string methodKey) =>
        IsImplicitScalar(methodKey) || methodKey.StartsWith("TorchSharp.ScalarExtensionMethods::ToScalar(", StringComparison.Ordinal);

    static bool DisposesScalar(string methodKey) => methodKey.StartsWith("TorchSharp.Scalar::Dispose(", StringComparison.Ordinal);

    public static TorchSharpTemporaryScalars Load(string torchSharpPath)
    {
        using var pe = new PEReader(File.OpenRead(torchSharpPath));
        var md = pe.GetMetadataReader();
        var callees = new Dictionary<string, List<string>>();
        foreach (var typeHandle in md.TypeDefinitions)
            foreach (var methodHandle in md.GetTypeDefinition(typeHandle).GetMethods())
            {
                var method = md.GetMethodDefinition(methodHandle);
                if (method.RelativeVirtualAddress == 0) continue; // abstract, extern (P/Invoke)
                var calls = IlInstructionReader.Read(pe.GetMethodBody(method.RelativeVirtualAddress))
                    .Where(i => IlInstructionReader.IsCall(i.OpCode))
                    .Select(i => MetadataMethodNames.Key(md, MetadataTokens.EntityHandle(i.Operand)))
                    .ToList();
                callees[MetadataMethodNames.Key(md, methodHandle)] = calls;
            }

        // Direct creators: convert a primitive to a Scalar and never call Scalar.Dispose in the same method.
        var hazardous = callees.Where(kv => kv.Value.Any(CreatesScalar) && !kv.Value.Any(DisposesScalar))
            .Select(kv => kv.Key).ToHashSet();
        // Everything that reaches a creator through TorchSharp's own (statically bound) calls.
        bool grew = true;
        while (grew)
        {
            grew = false;
            foreach (var (method, calls) in callees)
                if (!hazardous.Contains(method) && calls.Any(hazardous.Contains))
                    grew |= hazardous.Add(method);
        }
        return new TorchSharpTemporaryScalars(hazardous, callees.Keys.ToList());
    }
}
