"""Readers: each returns a :class:`~skelgraph.data.SkeletonSample` (C, T, V, M) float32."""

from skelgraph.data.readers._common import select_people_by_score
from skelgraph.data.readers.arrays import from_array, read_array_file
from skelgraph.data.readers.joint_rows import (
    MSR_ACTION3D_JOINTS,
    MSR_ACTION3D_TO_KINECT_V1,
    read_joint_rows,
)
from skelgraph.data.readers.kinetics import (
    load_kinetics_labels,
    load_label_names,
    read_kinetics_json,
)
from skelgraph.data.readers.ntu import (
    NTU_XSUB120_TRAIN_SUBJECTS,
    NTU_XSUB_TRAIN_SUBJECTS,
    NTU_XVIEW_TRAIN_CAMERAS,
    NTUName,
    body_energy,
    ntu_split,
    parse_ntu_name,
    read_ntu_skeleton,
)
from skelgraph.data.readers.nucla import (
    NUCLAName,
    nucla_cross_view_split,
    parse_nucla_name,
    read_nucla_json,
)
from skelgraph.data.readers.openpose import (
    BODY25_TO_OPENPOSE18,
    body25_to_openpose18,
    read_openpose_folder,
)
from skelgraph.data.readers.pose_pickle import (
    MAX_PICKLE_BYTES,
    read_pose_pickle,
    write_pose_pickle,
)

__all__ = [
    "BODY25_TO_OPENPOSE18",
    "MAX_PICKLE_BYTES",
    "MSR_ACTION3D_JOINTS",
    "MSR_ACTION3D_TO_KINECT_V1",
    "NTU_XSUB120_TRAIN_SUBJECTS",
    "NTU_XSUB_TRAIN_SUBJECTS",
    "NTU_XVIEW_TRAIN_CAMERAS",
    "NTUName",
    "NUCLAName",
    "body25_to_openpose18",
    "body_energy",
    "from_array",
    "load_kinetics_labels",
    "load_label_names",
    "ntu_split",
    "nucla_cross_view_split",
    "parse_ntu_name",
    "parse_nucla_name",
    "read_array_file",
    "read_joint_rows",
    "read_kinetics_json",
    "read_ntu_skeleton",
    "read_nucla_json",
    "read_openpose_folder",
    "read_pose_pickle",
    "select_people_by_score",
    "write_pose_pickle",
]
