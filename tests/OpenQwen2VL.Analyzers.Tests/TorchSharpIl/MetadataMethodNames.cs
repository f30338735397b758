using System.Collections.Immutable;
using System.Reflection.Metadata;

namespace OpenQwen2VL.Tests.Analyzers.TorchSharpIl;

/// <summary>
/// Names methods the same way whether they are defined in an assembly or referenced from another one
/// ("TorchSharp.torch/Tensor::add(TorchSharp.torch/Tensor,TorchSharp.Scalar)->TorchSharp.torch/Tensor"): the form the
/// analyzer's MemberKeys gives a Roslyn symbol, so TorchSharp's IL and the analyzer's list meet on one string.
/// Generic instantiations name their generic definition.
/// </summary>
public static class MetadataMethodNames
{
    static readonly SignatureNames Signatures = new(keepTypeArguments: true);
    static readonly SignatureNames GenericDefinitions = new(keepTypeArguments: false);

    /// <summary>Full signature key of a MethodDefinition, MemberReference or MethodSpecification handle.</summary>
    public static string Key(MetadataReader r, EntityHandle handle)
    {
        switch (handle.Kind)
        {
            case HandleKind.MethodDefinition:
            {
                var m = r.GetMethodDefinition((MethodDefinitionHandle)handle);
                return Format(TypeName(r, m.GetDeclaringType()), r.GetString(m.Name), m.DecodeSignature(Signatures, null));
            }
            case HandleKind.MemberReference:
            {
                var m = r.GetMemberReference((MemberReferenceHandle)handle);
                string type = TypeName(r, m.Parent);
                return m.GetKind() == MemberReferenceKind.Method
                    ? Format(type, r.GetString(m.Name), m.DecodeMethodSignature(Signatures, null))
                    : $"{type}::{r.GetString(m.Name)}";
            }
            case HandleKind.MethodSpecification:
                return Key(r, r.GetMethodSpecification((MethodSpecificationHandle)handle).Method);
            default:
                return $"<{handle.Kind}>";
        }
    }

    static string Format(string type, string name, MethodSignature<string> sig) =>
        $"{type}::{name}({string.Join(",", sig.ParameterTypes)})->{sig.ReturnType}";

    public static string TypeName(MetadataReader r, EntityHandle handle)
    {
        switch (handle.Kind)
        {
            case HandleKind.TypeDefinition:
            {
                var t = r.GetTypeDefinition((TypeDefinitionHandle)handle);
                var outer = t.GetDeclaringType();
                return (outer.IsNil ? Namespaced(r.GetString(t.Namespace)) : TypeName(r, outer) + "/") + r.GetString(t.Name);
            }
            case HandleKind.TypeReference:
            {
                var t = r.GetTypeReference((TypeReferenceHandle)handle);
                var scope = t.ResolutionScope;
                return (scope.Kind == HandleKind.TypeReference
                    ? TypeName(r, (EntityHandle)scope) + "/"
                    : Namespaced(r.GetString(t.Namespace))) + r.GetString(t.Name);
            }
            case HandleKind.TypeSpecification:
                // A member of a generic instantiation (Module<Tensor,Tensor>) binds to the generic definition.
                return r.GetTypeSpecification((TypeSpecificationHandle)handle).DecodeSignature(GenericDefinitions, null);
            default:
                return $"<{handle.Kind}>";
        }
    }

    static string Namespaced(string ns) => ns.Length == 0 ? "" : ns + ".";

    /// <summary>Full type names for signatures; a generic instantiation keeps or drops its type arguments.</summary>
    sealed class SignatureNames(bool keepTypeArguments) : ISignatureTypeProvider<string, object?>
    {
        public string GetPrimitiveType(PrimitiveTypeCode typeCode) => typeCode.ToString();
        public string GetTypeFromDefinition(MetadataReader r, TypeDefinitionHandle handle, byte rawTypeKind) => TypeName(r, handle);
        public string GetTypeFromReference(MetadataReader r, TypeReferenceHandle handle, byte rawTypeKind) => TypeName(r, handle);
        public string GetTypeFromSpecification(MetadataReader r, object? context, TypeSpecificationHandle handle, byte rawTypeKind) => TypeName(r, handle);
        public string GetSZArrayType(string elementType) => elementType + "[]";
        public string GetArrayType(string elementType, ArrayShape shape) => elementType + "[" + new string(',', shape.Rank - 1) + "]";
        public string GetByReferenceType(string elementType) => elementType + "&";
        public string GetPointerType(string elementType) => elementType + "*";
        public string GetPinnedType(string elementType) => elementType;
        public string GetModifiedType(string modifier, string unmodifiedType, bool isRequired) => unmodifiedType;
        public string GetGenericInstantiation(string genericType, ImmutableArray<string> typeArguments) =>
            keepTypeArguments ? genericType + "<" + string.Join(",", typeArguments) + ">" : genericType;
        public string GetGenericMethodParameter(object? context, int index) => "!!" + index;
        public string GetGenericTypeParameter(object? context, int index) => "!" + index;
        public string GetFunctionPointerType(MethodSignature<string> signature) => "method*";
    }
}
